// `codesweep submit SWEEP.toml --connect tcp://HOST:PORT [--server-key F --curve-secret F]`:
// hands a sweep file to a running coordinator, which expands it into its store (a new sweep, or
// the same sweep extended: more samples, tasks, models, ...) and dispatches the new cells at once.
// The coordinator parses it (with its own task registry) and names the file, line and key of an
// error; the file is read here, so the coordinator needs no access to it.
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "base/log.h"
#include "coordinator/sweep/grid.h"
#include "tools/codesweep/cli_common.h"
#include "tools/codesweep/commands.h"
#include "tools/codesweep/coord_client.h"

namespace codesweep {

namespace {

constexpr size_t kMaxSweepFileBytes = 16 << 20;  // far above any sweep file; below a frame

struct SubmitFlags {
  std::string sweep_file;
  CoordClientOptions client;
  int64_t max_cells = kDefaultMaxCells;
};

Result<std::string> ReadSweepFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(Str(path, ": cannot read the sweep file"));
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > kMaxSweepFileBytes) {
    return Status::InvalidArgument(Str(path, ": larger than ", kMaxSweepFileBytes, " bytes"));
  }
  return text.str();
}

int Run(const SubmitFlags& f) {
  Result<std::string> text = ReadSweepFile(f.sweep_file);
  if (!text.ok()) return PrintError("submit", text.status());
  if (f.max_cells < 1) return PrintError("submit", Status::InvalidArgument("--max-cells >= 1"));
  SubmitMsg msg;
  msg.path = f.sweep_file;
  msg.text = std::move(*text);
  msg.max_cells = f.max_cells;
  Result<SubmittedMsg> r = AskCoordinator(f.client, msg);
  if (!r.ok()) return PrintError("submit", r.status());
  std::printf("sweep %s (id %lld): %lld cells, %lld new, dispatched now by %s\n", r->name.c_str(),
              static_cast<long long>(r->sweep_id), static_cast<long long>(r->total),
              static_cast<long long>(r->inserted), f.client.connect.c_str());
  return 0;
}

}  // namespace

CommandAction SetupSubmitCommand(CLI::App& sub) {
  auto f = std::make_shared<SubmitFlags>();
  sub.add_option("sweep", f->sweep_file, "Sweep file (TOML): a new sweep or one to extend")
      ->required();
  sub.add_option("--connect", f->client.connect, "The coordinator's endpoint, tcp://HOST:PORT")
      ->required();
  sub.add_option("--max-cells", f->max_cells,
                 "Refuse a grid of more cells than this (the coordinator's own limit also holds)")
      ->capture_default_str();
  AddCoordClientFlags(sub, &f->client);
  return [f]() -> int { return Run(*f); };
}

}  // namespace codesweep
