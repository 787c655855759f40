// DatasetTask: serving dataset items (see dataset_task.h).
#include "jobs/tasks/dataset_task.h"

#include "jobs/tasks/common.h"

namespace codesweep {

DatasetTask::DatasetTask(DatasetTaskSpec spec, DatasetItems items)
    : spec_(std::move(spec)), items_(std::move(items)) {}

Status DatasetTask::ValidateComplexity(std::string_view c) const {
  if (spec_.levels.empty()) {
    if (c.empty()) return Status::OK();
    return Status::InvalidArgument(spec_.name + " has no complexity levels (use \"\")");
  }
  auto it = items_.find(std::string(c));
  if (it != items_.end() && !it->second.empty()) return Status::OK();
  return Status::InvalidArgument(spec_.name + " complexity must be " + spec_.level_rule +
                                 ", got '" + Truncate(c, 20) + "'");
}

int64_t DatasetTask::InstanceCount(std::string_view c) const {
  auto it = items_.find(spec_.levels.empty() ? std::string() : std::string(c));
  return it == items_.end() ? 0 : static_cast<int64_t>(it->second.size());
}

Result<Instance> DatasetTask::Generate(std::string_view complexity, int64_t sample,
                                       uint64_t seed) const {
  CS_RETURN_IF_ERROR(ValidateComplexity(complexity));
  const std::vector<DatasetItem>& items = items_.at(std::string(complexity));
  const int64_t n = static_cast<int64_t>(items.size());
  const DatasetItem& item =
      items[PermutedItem(spec_.name, complexity, sample, seed, static_cast<size_t>(n))];
  Instance inst;
  inst.task = spec_.name;
  inst.complexity = std::string(complexity);
  inst.sample = sample;
  inst.seed = seed;
  inst.prompt = item.question + "\n" + spec_.format_instruction;
  inst.truth = item.truth;
  inst.canonical_answer = item.truth;
  inst.data = item.data;
  return inst;
}

Result<DatasetItems> LoadDataset(const std::string& path, const DatasetRowParser& parse,
                                 std::string_view no_items_detail) {
  CS_ASSIGN_OR_RETURN(std::vector<nlohmann::json> rows, ReadJsonLines(path));
  DatasetItems items;
  for (const nlohmann::json& row : rows) {
    Result<DatasetRow> parsed = parse(row);
    if (!parsed.ok()) return Status::Corruption(path + ": " + parsed.status().message());
    if (!parsed->has_value()) continue;
    auto& [level, item] = **parsed;
    items[level].push_back(std::move(item));
  }
  if (items.empty()) return Status::Corruption(path + ": no items" + std::string(no_items_detail));
  return items;
}

}  // namespace codesweep
