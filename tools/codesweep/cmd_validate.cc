// `codesweep validate FILE`: parse and check a sweep file, print its grid size and first cells;
// with --probe, send one tiny real request per HTTP model (docs/llm.md, "Probing models").
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "coordinator/sweep/declared_tasks.h"
#include "coordinator/sweep/grid.h"
#include "coordinator/sweep/method_templates.h"
#include "jobs/llm/http.h"
#include "jobs/llm/probe.h"
#include "jobs/llm/provider_options.h"
#include "jobs/methods/method.h"
#include "jobs/tasks/declared/declared_task.h"
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
  bool probe = false;
};

std::optional<std::string> GetEnv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v != nullptr ? std::optional<std::string>(v) : std::nullopt;
}

// Warnings that need no request: an api_key_env variable that is unset.
std::vector<std::string> KeyWarnings(const SweepConfig& c) {
  std::vector<std::string> out;
  for (const ModelConfig& m : c.models) {
    if (m.spec.provider == "sim") continue;
    Result<ProviderOptions> o = ParseProviderOptions(m.spec);
    if (o.ok() && !o->api_key_env.empty() && !GetEnv(o->api_key_env)) {
      out.push_back(m.spec.id + ": api_key_env " + o->api_key_env + " is not set");
    }
  }
  return out;
}

// Whether `m` will run a method that needs tool calling.
bool RunsToolMethods(const SweepConfig& c, const ModelConfig& m) {
  for (const std::string& name : c.methods) {
    std::optional<MethodInfo> info = SweepMethodInfo(c, name);
    if (info && info->needs_tools && m.Runs(name)) return true;
  }
  return false;
}

std::string DescribeProbe(const ProbeReport& r) {
  std::string out = r.reachable ? Str("reachable (HTTP ", r.http_status, ")") : "unreachable";
  if (r.reachable) out += ", auth " + r.auth;
  if (r.tools) out += *r.tools ? ", tools ok" : ", tools refused";
  if (r.context_tokens) out += Str(", context ", *r.context_tokens, " tokens");
  if (!r.error.empty()) out += ": " + r.error;
  return out;
}

// One request per HTTP model; prints a line each. Returns 1 when a model did not answer 2xx.
int Probe(const SweepConfig& c, bool json_out, nlohmann::json* j) {
  ProviderEnv env;
  env.get_secret = GetEnv;
  Result<std::shared_ptr<HttpEngine>> http = MakeHttpEngine();
  if (!http.ok()) return PrintError("validate", http.status());
  env.http = *http;
  int http_models = 0;
  for (const ModelConfig& m : c.models) http_models += m.spec.provider != "sim";
  if (!json_out) {
    std::printf("probe: at most one request per model (%d in all), never retried\n", http_models);
  }
  int rc = 0;
  for (const ModelConfig& m : c.models) {
    if (m.spec.provider == "sim") continue;
    Result<ProbeReport> r = ProbeModel(m.spec, RunsToolMethods(c, m), env);
    if (!r.ok()) return PrintError("validate", r.status());
    const bool ok = r->http_status >= 200 && r->http_status < 300 && r->error.empty();
    if (!ok || (r->tools && !*r->tools)) rc = 1;
    if (json_out) {
      nlohmann::json p = {{"model", m.spec.id},        {"requests", r->requests},
                          {"reachable", r->reachable}, {"http_status", r->http_status},
                          {"auth", r->auth},           {"error", r->error},
                          {"warnings", r->warnings}};
      if (r->tools) p["tools"] = *r->tools;
      if (r->context_tokens) p["context_tokens"] = *r->context_tokens;
      (*j)["probe"].push_back(p);
      continue;
    }
    std::printf("  %-28s %s\n", m.spec.id.c_str(), DescribeProbe(*r).c_str());
  }
  return rc;
}

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
    j["warnings"] = KeyWarnings(c);
    const int rc = f.probe ? Probe(c, true, &j) : 0;
    std::printf("%s\n", j.dump(2).c_str());
    return rc;
  }
  std::printf("sweep %s (seed %llu): %s\n", c.name.c_str(), static_cast<unsigned long long>(c.seed),
              f.file.c_str());
  for (const auto& t : c.tasks) {
    std::string levels;
    for (const auto& l : t.complexities)
      levels += (levels.empty() ? "" : ", ") + (l.empty() ? "-" : l);
    if (t.declared) {  // every row was read and checked by LoadSweepFile
      int64_t cells = 0;
      for (const auto& l : t.complexities) cells += DeclaredSampleCount(c, t, l);
      std::printf(
          "  task   %-36s levels [%s] x %s samples = %lld rows (declared: %s, %zu rows "
          "checked)\n",
          t.name.c_str(), levels.c_str(),
          t.all_samples ? "all" : std::to_string(t.samples > 0 ? t.samples : c.samples).c_str(),
          static_cast<long long>(cells), t.declared->spec().dataset.c_str(),
          t.declared->row_count());
      continue;
    }
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
  for (const std::string& w : KeyWarnings(c)) std::printf("warning: %s\n", w.c_str());
  return f.probe ? Probe(c, false, nullptr) : 0;
}

}  // namespace

CommandAction SetupValidateCommand(CLI::App& sub) {
  auto flags = std::make_shared<ValidateFlags>();
  sub.add_option("file", flags->file, "Sweep file (TOML)")->required();
  sub.add_option("--first", flags->first, "How many cells to print")->capture_default_str();
  sub.add_flag("--json", flags->json, "Print the normalized sweep and first cells as JSON");
  sub.add_flag("--probe", flags->probe,
               "Send one tiny real request per HTTP model (reachability, auth, tools, context)");
  sub.add_option("--data-dir", flags->data_dir, "Task data directory (default: built-in)");
  sub.add_option("--max-cells", flags->max_cells, "Refuse grids with more cells than this")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  return [flags] { return RunValidate(*flags); };
}

}  // namespace codesweep
