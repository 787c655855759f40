// `codesweep validate FILE`: parse and check a sweep file, print its grid size and first cells.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "coordinator/sweep/grid.h"
#include "tools/codesweep/cli_common.h"
#include "tools/codesweep/commands.h"

namespace codesweep {

namespace {

struct ValidateFlags {
  std::string file;
  std::string data_dir;
  int first = 10;
  bool json = false;
  int64_t max_cells = kDefaultMaxCells;
};

int RunValidate(const ValidateFlags& f) {
  auto tasks = LoadTasks(f.data_dir);
  if (!tasks.ok()) return PrintError("validate", tasks.status(), 2);
  auto config = LoadSweepFile(f.file, **tasks);
  if (!config.ok()) return PrintError("validate", config.status());
  const SweepConfig& c = *config;
  GridNeeds needs = EstimateNeeds(c);
  int64_t size = needs.cells;
  Status limit = CheckGridSize(c, f.max_cells);
  if (!limit.ok()) return PrintError("validate", limit);
  if (f.json) {
    nlohmann::json j = nlohmann::json::parse(SweepConfigJson(c));
    j["cells"] = size;
    j["db_bytes_estimate"] = needs.db_bytes;
    ForEachCell(c, [&](const GridCell& g) {
      j["first_cells"].push_back({{"cell", g.cell.value()},
                                  {"task", g.task},
                                  {"complexity", g.complexity},
                                  {"sample", g.sample},
                                  {"model", c.models[g.model_index].spec.id},
                                  {"method", g.method},
                                  {"turns", g.turns}});
      return static_cast<int>(j["first_cells"].size()) < f.first;
    });
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("sweep %s (seed %llu): %s\n", c.name.c_str(), static_cast<unsigned long long>(c.seed),
              f.file.c_str());
  for (const auto& t : c.tasks) {
    std::string levels;
    for (const auto& l : t.complexities)
      levels += (levels.empty() ? "" : ", ") + (l.empty() ? "-" : l);
    std::printf("  task   %-36s levels [%s] x %lld samples\n", t.name.c_str(), levels.c_str(),
                static_cast<long long>(t.samples > 0 ? t.samples : c.samples));
  }
  for (const auto& m : c.models) {
    std::printf("  model  %s%s\n", m.spec.id.c_str(),
                m.spec.provider == "sim" ? "  (simulated model: no API calls)" : "");
  }
  std::string methods;
  for (const auto& m : c.methods) methods += (methods.empty() ? "" : ", ") + m;
  std::string turns;
  for (int t : c.turns) turns += (turns.empty() ? "" : ", ") + std::to_string(t);
  std::printf("  methods [%s]  turns [%s]\n", methods.c_str(), turns.c_str());
  std::printf("grid: %lld cells; the database will need about %s\n", static_cast<long long>(size),
              FormatBytes(needs.db_bytes).c_str());
  int shown = 0;
  ForEachCell(c, [&](const GridCell& g) {
    std::printf("  %.12s  %-18s %-8s #%-5lld %-24s %-22s turns=%d\n", g.cell.value().c_str(),
                g.task.c_str(), g.complexity.empty() ? "-" : g.complexity.c_str(),
                static_cast<long long>(g.sample), c.models[g.model_index].spec.id.c_str(),
                g.method.c_str(), g.turns);
    return ++shown < f.first;
  });
  if (size > shown) std::printf("  ... %lld more\n", static_cast<long long>(size - shown));
  return 0;
}

}  // namespace

CommandAction SetupValidateCommand(CLI::App& sub) {
  auto flags = std::make_shared<ValidateFlags>();
  sub.add_option("file", flags->file, "Sweep file (TOML)")->required();
  sub.add_option("--first", flags->first, "How many cells to print")->capture_default_str();
  sub.add_flag("--json", flags->json, "Print the normalized sweep and first cells as JSON");
  sub.add_option("--data-dir", flags->data_dir, "Task data directory (default: built-in)");
  sub.add_option("--max-cells", flags->max_cells, "Refuse grids with more cells than this")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  return [flags] { return RunValidate(*flags); };
}

}  // namespace codesweep
