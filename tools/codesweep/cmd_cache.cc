// `codesweep cache stats|clear --db FILE`: inspect or empty the LLM call cache.
#include <cstdio>
#include <memory>
#include <string>

#include "coordinator/store/store.h"
#include "tools/codesweep/commands.h"

namespace codesweep {

CommandAction SetupCacheCommand(CLI::App& sub) {
  auto db = std::make_shared<std::string>();
  auto action = std::make_shared<std::string>();
  sub.add_option("action", *action, "stats or clear")
      ->required()
      ->check(CLI::IsMember({"stats", "clear"}));
  sub.add_option("--db", *db, "Database file")->required();
  return [db, action]() -> int {
    StoreOptions so;
    so.create = false;
    so.read_only = *action == "stats";
    Result<std::unique_ptr<Store>> store = Store::Open(*db, so);
    if (!store.ok()) {
      std::fprintf(stderr, "codesweep cache: %s\n", store.status().ToString().c_str());
      return 1;
    }
    Result<int64_t> n = (*store)->CountCalls();
    if (!n.ok()) {
      std::fprintf(stderr, "codesweep cache: %s\n", n.status().ToString().c_str());
      return 1;
    }
    if (*action == "stats") {
      std::printf("cached calls: %lld\n", static_cast<long long>(*n));
      return 0;
    }
    Status s = (*store)->ClearCalls();
    if (s.ok()) s = (*store)->Commit();
    if (!s.ok()) {
      std::fprintf(stderr, "codesweep cache: %s\n", s.ToString().c_str());
      return 1;
    }
    std::printf("cleared %lld cached calls\n", static_cast<long long>(*n));
    return 0;
  };
}

}  // namespace codesweep
