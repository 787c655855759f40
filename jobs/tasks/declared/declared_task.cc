#include "jobs/tasks/declared/declared_task.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <unordered_map>

#include "base/hash.h"
#include "jobs/tasks/common.h"

namespace codesweep {
namespace {

const std::set<std::string>& KnownKeys() {
  static const std::set<std::string> keys = {"name",   "description", "dataset",      "id",
                                             "prompt", "target",      "complexity",   "answer",
                                             "scorer", "max_bytes",   "max_row_bytes"};
  return keys;
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<DeclaredTaskSpec> ParseDeclaredTask(const nlohmann::json& table,
                                           const std::string& base_dir) {
  if (!table.is_object()) return Status::InvalidArgument("tasks: a task is a table");
  std::string name =
      table.contains("name") && table["name"].is_string() ? table["name"].get<std::string>() : "";
  std::string where = "tasks." + (name.empty() ? std::string("?") : name);
  auto bad = [&](const std::string& key, const std::string& what) {
    return Status::InvalidArgument(where + (key.empty() ? "" : "." + key) + ": " + what);
  };
  if (!ValidName(name)) {
    return bad("name", "a task needs name = \"...\" (letters, digits, _ - ., at most 64)");
  }
  for (const auto& [key, value] : table.items()) {
    if (!KnownKeys().count(key)) return bad(key, "unknown key");
  }
  auto text = [&](const char* key, bool required) -> Result<std::optional<std::string>> {
    if (!table.contains(key)) {
      if (required) return bad(key, "required");
      return std::optional<std::string>();
    }
    if (!table[key].is_string()) return bad(key, "must be a string");
    return std::optional<std::string>(table[key].get<std::string>());
  };
  auto templ = [&](const char* key, bool required) -> Result<std::optional<Template>> {
    Result<std::optional<std::string>> t = text(key, required);
    if (!t.ok()) return t.status();
    if (!*t) return std::optional<Template>();
    Result<Template> parsed = Template::Parse(**t);
    if (!parsed.ok()) return bad(key, parsed.status().message());
    if (parsed->empty()) return bad(key, "is empty");
    return std::optional<Template>(std::move(parsed).value());
  };

  DeclaredTaskSpec spec;
  spec.name = name;
  Result<std::optional<std::string>> description = text("description", false);
  if (!description.ok()) return description.status();
  spec.description = description->value_or("declared task");
  Result<std::optional<std::string>> dataset = text("dataset", true);
  if (!dataset.ok()) return dataset.status();
  std::filesystem::path path(**dataset);
  if (path.is_relative() && !base_dir.empty()) path = std::filesystem::path(base_dir) / path;
  spec.dataset = path.lexically_normal().string();
  if (Result<DatasetFormat> f = DatasetFormatOf(spec.dataset); !f.ok()) {
    return bad("dataset", f.status().message());
  }
  auto id = templ("id", false);
  if (!id.ok()) return id.status();
  spec.id = std::move(*id);
  auto prompt = templ("prompt", true);
  if (!prompt.ok()) return prompt.status();
  spec.prompt = std::move(**prompt);
  auto target = templ("target", true);
  if (!target.ok()) return target.status();
  spec.target = std::move(**target);
  auto complexity = templ("complexity", false);
  if (!complexity.ok()) return complexity.status();
  spec.complexity = std::move(*complexity);

  nlohmann::json answer =
      table.contains("answer") ? table["answer"] : nlohmann::json("triple_angle");
  Result<std::vector<Extractor>> chain = ParseExtractorChain(answer);
  if (!chain.ok()) return bad("", chain.status().message());
  spec.answer = std::move(chain).value();
  nlohmann::json scorer = table.contains("scorer") ? table["scorer"] : nlohmann::json("exact");
  Result<Scorer> sc = ParseScorer(scorer);
  if (!sc.ok()) return bad("", sc.status().message());
  spec.scorer = std::move(sc).value();

  for (const char* key : {"max_bytes", "max_row_bytes"}) {
    if (!table.contains(key)) continue;
    const nlohmann::json& v = table[key];
    if (!v.is_number_integer() || v.get<int64_t>() < 1)
      return bad(key, "a positive integer (bytes)");
    (std::string(key) == "max_bytes" ? spec.limits.max_file_bytes : spec.limits.max_row_bytes) =
        v.get<uint64_t>();
  }

  nlohmann::json identity = {{"name", spec.name},
                             {"prompt", spec.prompt.source()},
                             {"target", spec.target.source()},
                             {"id", spec.id ? spec.id->source() : ""},
                             {"complexity", spec.complexity ? spec.complexity->source() : ""},
                             {"answer", answer},
                             {"scorer", scorer}};
  spec.definition_hash = Sha256Hex(identity.dump());
  return spec;
}

Result<std::unique_ptr<DeclaredTask>> DeclaredTask::Create(DeclaredTaskSpec spec) {
  std::vector<std::string> levels;
  std::vector<uint32_t> row_level;                 // index into `levels` per row
  std::vector<std::pair<uint64_t, uint32_t>> ids;  // (hash of id, row)
  auto visit = [&](size_t index, const nlohmann::json& row) -> Status {
    Result<std::string> prompt = spec.prompt.Render(row);
    if (!prompt.ok()) return Status::InvalidArgument("prompt: " + prompt.status().message());
    Result<std::vector<std::string>> targets = spec.target.RenderList(row);
    if (!targets.ok()) return Status::InvalidArgument("target: " + targets.status().message());
    if (targets->empty() || std::all_of(targets->begin(), targets->end(), [](const std::string& t) {
          return TrimAscii(t).empty();
        })) {
      return Status::InvalidArgument("target: empty");
    }
    std::string level;
    if (spec.complexity) {
      Result<std::string> l = spec.complexity->Render(row);
      if (!l.ok()) return Status::InvalidArgument("complexity: " + l.status().message());
      level = *l;
      if (level.empty()) return Status::InvalidArgument("complexity: empty");
    }
    auto known = std::find(levels.begin(), levels.end(), level);
    if (known == levels.end()) {
      if (levels.size() >= 1000)
        return Status::InvalidArgument("complexity: more than 1000 levels");
      known = levels.insert(levels.end(), level);
    }
    row_level.push_back(static_cast<uint32_t>(known - levels.begin()));
    if (spec.id) {
      Result<std::string> id = spec.id->Render(row);
      if (!id.ok()) return Status::InvalidArgument("id: " + id.status().message());
      if (id->empty()) return Status::InvalidArgument("id: empty");
      ids.emplace_back(Sha256U64(*id), static_cast<uint32_t>(index));
    }
    return Status::OK();
  };
  Result<Dataset> ds = Dataset::Open(spec.dataset, spec.limits, visit);
  if (!ds.ok()) return Status::InvalidArgument("tasks." + spec.name + ": " + ds.status().message());

  // No two rows may share an id, nor (without ids) the same content: a cell is one row.
  if (!spec.id) {
    for (size_t i = 0; i < ds->size(); ++i) ids.emplace_back(ds->content_hash(i), i);
  }
  std::sort(ids.begin(), ids.end());
  for (size_t i = 1; i < ids.size(); ++i) {
    if (ids[i].first == ids[i - 1].first) {
      uint32_t a = std::min(ids[i].second, ids[i - 1].second);
      uint32_t b = std::max(ids[i].second, ids[i - 1].second);
      return Status::InvalidArgument(
          "tasks." + spec.name + ": " + spec.dataset + ":" + std::to_string(ds->line(b)) +
          (spec.id ? ": the same id as line " : ": the same row as line ") +
          std::to_string(ds->line(a)) + " (each row is one cell and needs its own identity)");
    }
  }

  std::unique_ptr<DeclaredTask> task(new DeclaredTask(std::move(spec), std::move(ds).value()));
  for (size_t i = 0; i < row_level.size(); ++i) {
    task->rows_[levels[row_level[i]]].push_back(static_cast<uint32_t>(i));
  }
  if (task->spec_.complexity) task->levels_ = std::move(levels);
  // Serve each level's rows in the order of their content hashes: independent of the file's
  // order, and a pseudo-random shuffle of the rows.
  for (auto& [level, rows] : task->rows_) {
    std::sort(rows.begin(), rows.end(), [&](uint32_t a, uint32_t b) {
      return task->dataset_.content_hash(a) < task->dataset_.content_hash(b);
    });
  }
  return task;
}

Status DeclaredTask::ValidateComplexity(std::string_view complexity) const {
  if (rows_.count(std::string(complexity))) return Status::OK();
  std::string known;
  for (const std::string& l : levels_) known += (known.empty() ? "" : ", ") + l;
  if (known.empty()) {
    return Status::InvalidArgument("task " + spec_.name + " has no complexity levels (use \"\")");
  }
  return Status::InvalidArgument("task " + spec_.name + " has no rows at complexity '" +
                                 std::string(complexity) + "' (levels: " + known + ")");
}

int64_t DeclaredTask::InstanceCount(std::string_view complexity) const {
  auto it = rows_.find(std::string(complexity));
  return it == rows_.end() ? 0 : static_cast<int64_t>(it->second.size());
}

Result<size_t> DeclaredTask::RowIndex(std::string_view complexity, int64_t sample,
                                      uint64_t seed) const {
  Status valid = ValidateComplexity(complexity);
  if (!valid.ok()) return valid;
  if (sample < 0) return Status::InvalidArgument("sample must be >= 0");
  const std::vector<uint32_t>& rows = rows_.at(std::string(complexity));
  // The seed rotates the content-hash order, so two seeds start at different rows.
  uint64_t offset =
      Sha256U64(spec_.name + "|" + std::string(complexity) + "|" + std::to_string(seed)) %
      rows.size();
  return rows[(offset + static_cast<uint64_t>(sample)) % rows.size()];
}

Result<Instance> DeclaredTask::Generate(std::string_view complexity, int64_t sample,
                                        uint64_t seed) const {
  Result<size_t> index = RowIndex(complexity, sample, seed);
  if (!index.ok()) return index.status();
  Result<nlohmann::json> row = dataset_.Row(*index);
  if (!row.ok()) return row.status();
  Result<std::string> prompt = spec_.prompt.Render(*row);
  Result<std::vector<std::string>> targets = spec_.target.RenderList(*row);
  if (!prompt.ok() || !targets.ok()) {
    return Status::InvalidArgument(dataset_.path() + ":" + std::to_string(dataset_.line(*index)) +
                                   ": the row no longer renders");
  }
  Instance inst;
  inst.task = spec_.name;
  inst.complexity = std::string(complexity);
  inst.sample = sample;
  inst.seed = seed;
  inst.prompt = std::move(prompt).value();
  std::string truth;
  for (const std::string& t : *targets) truth += (truth.empty() ? "" : " | ") + t;
  inst.truth = truth;
  inst.canonical_answer = targets->front();
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx",
                static_cast<unsigned long long>(dataset_.content_hash(*index)));
  inst.data = {{"targets", *targets}, {"row_hash", hash}, {"line", dataset_.line(*index)}};
  if (spec_.id) {
    Result<std::string> id = spec_.id->Render(*row);
    if (id.ok()) inst.data["id"] = *id;
  }
  return inst;
}

Verdict DeclaredTask::Check(const Instance& instance, std::string_view answer) const {
  std::optional<Extracted> got = ExtractAnswer(answer, spec_.answer);
  if (!got) {
    std::string tried;
    for (const Extractor& e : spec_.answer) tried += (tried.empty() ? "" : ", ") + e.name;
    Verdict v;
    v.reason = "no answer found (tried " + tried + ")";
    return v;
  }
  std::vector<std::string> targets;
  if (instance.data.contains("targets") && instance.data["targets"].is_array()) {
    for (const nlohmann::json& t : instance.data["targets"]) {
      if (t.is_string()) targets.push_back(t.get<std::string>());
    }
  }
  Verdict v = Score(spec_.scorer, got->answer, targets);
  v.reason += " (answer by " + got->source + ")";
  return v;
}

std::string DeclaredTask::ReferenceSolution(const Instance& instance) const {
  std::string answer = FormatAnswerFor(spec_.answer.front(), instance.canonical_answer);
  return "print(" + PyStringLiteral(answer) + ")\n";
}

}  // namespace codesweep
