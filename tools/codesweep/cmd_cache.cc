// `codesweep cache stats|clear [SWEEP.toml] [--db FILE]`: inspect or empty the LLM call cache.
#include <cstdio>
#include <memory>
#include <string>

#include "coordinator/store/store.h"
#include "tools/codesweep/cli_common.h"
#include "tools/codesweep/commands.h"

namespace codesweep {

namespace {

struct CacheFlags {
  std::string action;
  ReadDb target;
};

int RunCache(const CacheFlags& f) {
  Result<std::string> db = ResolveReadDb(f.target);
  if (!db.ok()) return PrintError("cache", db.status());
  StoreOptions so;
  so.create = false;
  so.read_only = f.action == "stats";
  Result<std::unique_ptr<Store>> store = Store::Open(*db, so);
  if (!store.ok()) return PrintError("cache", store.status());
  Result<int64_t> n = (*store)->CountCalls();
  if (!n.ok()) return PrintError("cache", n.status());
  if (f.action == "stats") {
    std::printf("cached calls: %lld\n", static_cast<long long>(*n));
    return 0;
  }
  Status s = (*store)->ClearCalls();
  if (s.ok()) s = (*store)->Commit();
  if (!s.ok()) return PrintError("cache", s);
  std::printf("cleared %lld cached calls\n", static_cast<long long>(*n));
  return 0;
}

}  // namespace

CommandAction SetupCacheCommand(CLI::App& sub) {
  auto flags = std::make_shared<CacheFlags>();
  sub.add_option("action", flags->action, "stats or clear")
      ->required()
      ->check(CLI::IsMember({"stats", "clear"}));
  AddReadDbOptions(sub, &flags->target);
  return [flags] { return RunCache(*flags); };
}

}  // namespace codesweep
