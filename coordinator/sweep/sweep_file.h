// Sweep files (TOML, read with toml++): the grid a user asks for. ParseSweep validates
// everything it can without running anything; every error names the file, line and key. Text
// nested past 64 levels is refused before toml++ sees it (toml++ recurses per level).
// Values are immutable after parsing and safe to share between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "jobs/methods/method_template.h"
#include "jobs/tasks/task.h"
#include "schema/types.h"

namespace codesweep {

class DeclaredTask;

struct RateLimitConfig {
  double requests_per_minute = 0;  // 0 = unlimited
  double tokens_per_minute = 0;    // combined, where the provider does not split
  double input_tokens_per_minute = 0;
  double output_tokens_per_minute = 0;
  int max_concurrency = 0;      // in-flight calls for this model across the cluster; 0 = auto
  double reserve_fraction = 0;  // share of the limits left for other users of the key
};

struct ModelConfig {
  ModelSpec spec;  // id, provider, name, options_json (no secrets)
  GenSettings gen;
  std::string key_alias;  // which API key (its env var name); "" for sim
  RateLimitConfig limits;
  // Methods this model does not run (the paper's "NA" cells, e.g. tool methods on o1-preview).
  std::vector<std::string> skip_methods;
  // Budget: once the model's calls in this sweep cost this much (USD), none of its cells start.
  // Not part of any cell key; absent = no budget.
  std::optional<double> max_cost_usd;
  bool Runs(const std::string& method) const;
};

struct TaskConfig {
  std::string name;
  std::vector<std::string> complexities;  // [""] where the task has no knob
  int64_t samples = 0;                    // per (complexity) level; 0 = the sweep's default
  int64_t first_sample = 0;               // sample indexes start here
  // Declared in the sweep file (coordinator/sweep/declared_tasks.h): its dataset rows are the
  // samples, each sample index the row's RowSampleKey; null for built-in tasks.
  std::shared_ptr<const DeclaredTask> declared;
  std::string declared_wire;  // the definition sent with each of its jobs (JobSpec::task_def)
  bool all_samples = false;   // samples = "all": every row
};

struct SweepConfig {
  std::string path;  // where it was read from ("<string>" for text)
  std::string text;  // the file as given
  std::string name;
  uint64_t seed = 0;
  int64_t samples = 1;  // default samples per (task, complexity)
  int max_attempts = 3;
  // Draws of every cell (`epochs = K`): K separate runs with distinct cell and call keys. Epoch 0
  // keeps the key a cell has with K = 1, so raising K adds only the new draws.
  int epochs = 1;
  std::vector<TaskConfig> tasks;
  std::vector<ModelConfig> models;
  std::vector<std::string> methods;              // built-in names and names of method_templates
  std::vector<MethodTemplate> method_templates;  // [method_templates.NAME] (docs/methods.md)
  std::vector<int> turns = {1};
  std::string sandbox_json = "{}";  // overrides of sandbox limits (JSON object)
  // Budgets over all the sweep's calls: once one is reached no more cells start (running ones
  // finish). Calls answered from the cache are free. Not part of any cell key; absent = none.
  std::optional<double> max_cost_usd;
  std::optional<int64_t> max_tokens_total;  // tokens in + out
};

Result<SweepConfig> ParseSweep(std::string_view text, const std::string& path,
                               const TaskRegistry& tasks);
Result<SweepConfig> LoadSweepFile(const std::string& path, const TaskRegistry& tasks);

// The normalized config as JSON (for the sweeps table and `validate --json`). No secrets.
std::string SweepConfigJson(const SweepConfig& config);

}  // namespace codesweep
