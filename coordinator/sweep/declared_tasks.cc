#include "coordinator/sweep/declared_tasks.h"

#include <toml++/toml.h>

#include <set>

#include "coordinator/sweep/toml_file.h"
#include "jobs/tasks/declared/declared_task.h"
#include "jobs/tasks/declared/toml_json.h"

namespace codesweep {
namespace {

using json = nlohmann::json;

// The keys of an entry that place a task on the grid (the rest declare it).
const std::set<std::string>& GridKeys() {
  static const std::set<std::string> keys = {"samples", "first_sample", "run_levels"};
  return keys;
}

// The tables a task file declares: its top level, or each of its [[tasks]].
Result<std::vector<json>> ReadTaskFile(const std::string& path) {
  CS_ASSIGN_OR_RETURN(toml::table root, ReadIncludedToml(path, "task file"));
  json j = TomlToJson(root, kMaxIncludedFileDepth);
  std::vector<json> out;
  if (j.contains("tasks")) {
    if (j.size() != 1 || !j["tasks"].is_array() || j["tasks"].empty()) {
      return Status::InvalidArgument(path +
                                     ": a task file is one task's keys, or [[tasks]] tables only");
    }
    for (const json& t : j["tasks"]) {
      if (!t.is_object()) return Status::InvalidArgument(path + ": [[tasks]] entries are tables");
      out.push_back(t);
    }
  } else {
    out.push_back(std::move(j));
  }
  return out;
}

Status AddTask(json decl, const json& grid, const std::string& where, const std::string& base_dir,
               const TaskRegistry& builtin, std::vector<TaskConfig>& out) {
  // Grid keys written in the entry win over those of a task file.
  for (const auto& [key, value] : grid.items()) decl[key] = value;
  json table = json::object();
  for (const auto& [key, value] : decl.items()) {
    if (!GridKeys().count(key)) table[key] = value;
  }
  Result<DeclaredTaskSpec> spec = ParseDeclaredTask(table, base_dir);
  if (!spec.ok()) return Status::InvalidArgument(where + ": " + spec.status().message());
  if (builtin.Contains(spec->name)) {
    return Status::InvalidArgument(where + ": tasks." + spec->name +
                                   ": the name of a built-in task (declare it under another name)");
  }
  TaskConfig tc;
  tc.name = spec->name;
  Result<std::unique_ptr<DeclaredTask>> task = DeclaredTask::Create(std::move(spec).value());
  if (!task.ok()) return Status::InvalidArgument(where + ": " + task.status().message());
  std::shared_ptr<const DeclaredTask> shared = std::move(task).value();
  if (decl.contains("samples")) {
    const json& s = decl["samples"];
    if (s.is_string() && s.get<std::string>() == "all") {
      tc.all_samples = true;
    } else if (s.is_number_integer() && s.get<int64_t>() >= 1 && s.get<int64_t>() <= 10'000'000) {
      tc.samples = s.get<int64_t>();
    } else {
      return Status::InvalidArgument(where + ": tasks." + tc.name +
                                     ".samples: a count from 1 to 10000000, or \"all\"");
    }
  }
  if (decl.contains("first_sample")) {
    const json& f = decl["first_sample"];
    if (!f.is_number_integer() || f.get<int64_t>() < 0) {
      return Status::InvalidArgument(where + ": tasks." + tc.name +
                                     ".first_sample: a count of rows to skip (>= 0)");
    }
    tc.first_sample = f.get<int64_t>();
  }
  if (decl.contains("run_levels")) {
    const json& l = decl["run_levels"];
    if (!l.is_array() || l.empty()) {
      return Status::InvalidArgument(where + ": tasks." + tc.name +
                                     ".run_levels: a non-empty list of complexity levels");
    }
    for (const json& level : l) {
      if (!level.is_string()) {
        return Status::InvalidArgument(where + ": tasks." + tc.name +
                                       ".run_levels: levels are strings (write them in quotes)");
      }
      Status s = shared->ValidateComplexity(level.get<std::string>());
      if (!s.ok()) {
        return Status::InvalidArgument(where + ": tasks." + tc.name +
                                       ".run_levels: " + s.message());
      }
      tc.complexities.push_back(level.get<std::string>());
    }
  } else {
    tc.complexities = shared->complexity_levels();
    if (tc.complexities.empty()) tc.complexities.push_back("");
  }
  tc.declared = std::move(shared);
  out.push_back(std::move(tc));
  return Status::OK();
}

}  // namespace

bool IsDeclaredTaskEntry(const json& entry) {
  return entry.is_object() && (entry.contains("dataset") || entry.contains("file"));
}

Status ParseDeclaredTaskEntry(const json& entry, const std::string& where,
                              const std::string& sweep_path, const TaskRegistry& builtin,
                              std::vector<TaskConfig>& out) {
  std::string base_dir = DirOf(sweep_path);
  if (!entry.contains("file")) return AddTask(entry, json::object(), where, base_dir, builtin, out);
  json grid = json::object();
  for (const auto& [key, value] : entry.items()) {
    if (key == "file") continue;
    if (key == "levels") return Status::InvalidArgument(where + ".levels: " + kLevelsIsAmbiguous);
    if (!GridKeys().count(key)) {
      return Status::InvalidArgument(where + "." + key +
                                     ": unknown key beside file (samples, first_sample and "
                                     "run_levels may be given; the rest belongs in the task file)");
    }
    grid[key] = value;
  }
  if (!entry["file"].is_string() || entry["file"].get<std::string>().empty()) {
    return Status::InvalidArgument(where + ".file: a path to a task file (TOML)");
  }
  std::string file = ResolveIncluded(base_dir, entry["file"].get<std::string>());
  Result<std::vector<json>> tables = ReadTaskFile(file);
  if (!tables.ok()) return Status::InvalidArgument(where + ".file: " + tables.status().message());
  for (size_t i = 0; i < tables->size(); ++i) {
    json decl = (*tables)[i];
    if (decl.contains("file")) {
      return Status::InvalidArgument(where + ": " + file + ": a task file does not include others");
    }
    std::string at =
        where + ": " + file + (tables->size() > 1 ? ": tasks[" + std::to_string(i) + "]" : "");
    CS_RETURN_IF_ERROR(AddTask(std::move(decl), grid, at, DirOf(file), builtin, out));
  }
  return Status::OK();
}

Status FinishDeclaredTasks(SweepConfig& config) {
  for (TaskConfig& t : config.tasks) {
    if (!t.declared) continue;
    const DeclaredTaskSpec& spec = t.declared->spec();
    json wire = {{"task", spec.table}};
    if (spec.judge) {
      const ModelConfig* judge = nullptr;
      std::string known;
      for (const ModelConfig& m : config.models) {
        if (m.spec.id == spec.judge->model) judge = &m;
        known += (known.empty() ? "" : ", ") + m.spec.id;
      }
      if (judge == nullptr) {
        return Status::InvalidArgument(config.path + ": tasks." + t.name + ".scorer.model: \"" +
                                       spec.judge->model +
                                       "\" is not a model of this sweep (models: " + known + ")");
      }
      json gen = {{"temperature", judge->gen.temperature},
                  {"top_p", judge->gen.top_p},
                  {"max_tokens", judge->gen.max_tokens},
                  {"stop", judge->gen.stop}};
      if (judge->gen.seed) gen["seed"] = *judge->gen.seed;
      wire["judge_model"] = {{"id", judge->spec.id},
                             {"provider", judge->spec.provider},
                             {"name", judge->spec.name},
                             {"options_json", judge->spec.options_json},
                             {"gen", gen}};
    }
    t.declared_wire = wire.dump();
  }
  return Status::OK();
}

int64_t DeclaredSampleCount(const SweepConfig& config, const TaskConfig& t,
                            const std::string& level) {
  int64_t rows = t.declared->InstanceCount(level);
  int64_t left = std::max<int64_t>(0, rows - t.first_sample);
  if (t.all_samples) return left;
  return std::min(left, t.samples > 0 ? t.samples : config.samples);
}

json DeclaredTaskJson(const DeclaredTask& task) {
  return {{"dataset", task.spec().dataset},
          {"rows", task.row_count()},
          {"levels", task.complexity_levels()},
          {"definition_hash", task.spec().definition_hash}};
}

DeclaredCatalog::DeclaredCatalog(const SweepConfig& config) : sweep_(config.name) {
  for (const TaskConfig& t : config.tasks) {
    if (t.declared) tasks_[t.name] = Entry{t.declared, t.declared_wire};
  }
}

Status DeclaredCatalog::Fill(JobSpec& spec) const {
  if (spec.sweep != sweep_) return Status::OK();
  auto it = tasks_.find(spec.task);
  if (it == tasks_.end()) return Status::OK();
  const DeclaredTask& task = *it->second.task;
  std::optional<size_t> row = task.FindRow(spec.complexity, spec.sample, spec.seed);
  if (!row) {
    return Status::NotFound("the row of this cell is no longer in " + task.dataset().path() +
                            " (the file changed since the cell was made)");
  }
  Result<json> value = task.dataset().Row(*row);
  if (!value.ok()) return value.status();
  spec.task_def = it->second.wire;
  spec.task_row = value->dump(-1, ' ', false, json::error_handler_t::replace);
  return Status::OK();
}

}  // namespace codesweep
