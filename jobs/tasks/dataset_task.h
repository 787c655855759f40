// DatasetTask: the shape every dataset task (gsm_hard, math_*, bbh_*) shares, written once. It
// holds the items loaded from a JSON-lines file, grouped by complexity level, and serves them:
// the sample index wraps modulo the level's item count, and the prompt is the item's question
// plus the task's format instruction. A task adds only its checker and its reference program.
// Immutable after construction; safe to call from many threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jobs/tasks/task.h"

namespace codesweep {

// One dataset item as the task serves it.
struct DatasetItem {
  std::string question;  // the prompt, before the format instruction
  std::string truth;     // Instance::truth and Instance::canonical_answer
  nlohmann::json data;   // Instance::data: what Check() and ReferenceSolution() read
};

// Items by complexity level; a task without levels keeps them all under "".
using DatasetItems = std::map<std::string, std::vector<DatasetItem>>;

struct DatasetTaskSpec {
  std::string name;
  std::string description;
  std::vector<std::string> levels;  // complexity_levels(); empty: "" is the only level
  std::string format_instruction;   // appended to the question after a newline
  // For a task with levels: what ValidateComplexity says a level must be ("a MATH level 1..5").
  std::string level_rule;
};

class DatasetTask : public Task {
 public:
  DatasetTask(DatasetTaskSpec spec, DatasetItems items);
  std::string_view name() const final { return spec_.name; }
  std::string_view description() const final { return spec_.description; }
  std::vector<std::string> complexity_levels() const final { return spec_.levels; }
  // A level with at least one item; "" for a task without levels.
  Status ValidateComplexity(std::string_view complexity) const final;
  int64_t InstanceCount(std::string_view complexity) const final;
  Result<Instance> Generate(std::string_view complexity, int64_t sample, uint64_t seed) const final;

 private:
  DatasetTaskSpec spec_;
  DatasetItems items_;
};

// One row of a dataset file as a task reads it: (level, item), or nothing to skip the row.
using DatasetRow = std::optional<std::pair<std::string, DatasetItem>>;
// Reads one row; an error marks the file corrupt (LoadDataset prefixes the path).
using DatasetRowParser = std::function<Result<DatasetRow>(const nlohmann::json& row)>;

// Reads the JSON-lines file at `path` through `parse`. Fails with Corruption
// "<path>: no items<no_items_detail>" when no row yields an item.
Result<DatasetItems> LoadDataset(const std::string& path, const DatasetRowParser& parse,
                                 std::string_view no_items_detail = "");

}  // namespace codesweep
