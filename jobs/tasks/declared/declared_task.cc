#include "jobs/tasks/declared/declared_task.h"

#include <re2/re2.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <unordered_map>

#include "base/hash.h"
#include "jobs/tasks/common.h"
#include "jobs/tasks/declared/toml_json.h"

namespace codesweep {
namespace {

const std::set<std::string>& KnownKeys() {
  static const std::set<std::string> keys = {"name",
                                             "description",
                                             "dataset",
                                             "id",
                                             "prompt",
                                             "target",
                                             "complexity",
                                             "answer",
                                             "scorer",
                                             "max_bytes",
                                             "max_row_bytes",
                                             "serve_levels",
                                             "complexity_pattern",
                                             "order",
                                             "reference"};
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

// splitmix64: the seeded order of sampling, from a row's content hash.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

constexpr size_t kMaxScorerSourceBytes = 1 << 20;

// scorer = { kind = "python", file = "...", function = "score" } (or `source` inline, as workers
// get it). Fills `scorer.source` in `table` so the definition travels without the file.
Result<PythonScorer> ReadPythonScorer(nlohmann::json& scorer, const std::string& base_dir) {
  static const std::set<std::string> known = {"kind", "file", "function", "source"};
  for (const auto& [key, value] : scorer.items()) {
    if (!known.count(key))
      return Status::InvalidArgument("scorer.python: unknown key '" + key + "'");
  }
  PythonScorer py;
  py.function = "score";
  if (scorer.contains("function")) {
    if (!scorer["function"].is_string() || !ValidName(scorer["function"].get<std::string>()) ||
        std::isdigit(static_cast<unsigned char>(scorer["function"].get<std::string>()[0]))) {
      return Status::InvalidArgument("scorer.python: function is a Python name");
    }
    py.function = scorer["function"].get<std::string>();
    if (py.function.find_first_of("-.") != std::string::npos) {
      return Status::InvalidArgument("scorer.python: function is a Python name");
    }
  }
  if (scorer.contains("source")) {
    if (!scorer["source"].is_string())
      return Status::InvalidArgument("scorer.python: source is a string");
    py.source = scorer["source"].get<std::string>();
    py.file = scorer.contains("file") && scorer["file"].is_string()
                  ? scorer["file"].get<std::string>()
                  : "";
    return py;
  }
  if (!scorer.contains("file") || !scorer["file"].is_string()) {
    return Status::InvalidArgument("scorer.python: needs file = \"scorers/x.py\"");
  }
  std::filesystem::path path(scorer["file"].get<std::string>());
  if (path.is_relative() && !base_dir.empty()) path = std::filesystem::path(base_dir) / path;
  py.file = path.lexically_normal().string();
  std::ifstream in(py.file, std::ios::binary);
  if (!in) return Status::InvalidArgument("scorer.python: cannot read " + py.file);
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > kMaxScorerSourceBytes) {
    return Status::InvalidArgument("scorer.python: " + py.file + " is larger than 1 MiB");
  }
  py.source = text.str();
  scorer["source"] = py.source;
  return py;
}

// scorer = { kind = "judge", model = "sim:default", rubric = "..." }
Result<JudgeScorer> ReadJudgeScorer(const nlohmann::json& scorer) {
  static const std::set<std::string> known = {"kind", "model", "rubric"};
  for (const auto& [key, value] : scorer.items()) {
    if (!known.count(key))
      return Status::InvalidArgument("scorer.judge: unknown key '" + key + "'");
  }
  JudgeScorer judge;
  if (!scorer.contains("model") || !scorer["model"].is_string() ||
      scorer["model"].get<std::string>().empty()) {
    return Status::InvalidArgument("scorer.judge: needs model = \"...\" (a model of the sweep)");
  }
  judge.model = scorer["model"].get<std::string>();
  std::string rubric = DefaultJudgeRubric();
  if (scorer.contains("rubric")) {
    if (!scorer["rubric"].is_string())
      return Status::InvalidArgument("scorer.judge: rubric is a string");
    rubric = scorer["rubric"].get<std::string>();
  }
  Result<Template> t = Template::Parse(rubric);
  if (!t.ok()) return Status::InvalidArgument("scorer.judge.rubric: " + t.status().message());
  judge.rubric = std::move(t).value();
  return judge;
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
  if (table.contains("levels")) return bad("levels", kLevelsIsAmbiguous);
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
  Result<std::optional<std::string>> pattern = text("complexity_pattern", false);
  if (!pattern.ok()) return pattern.status();
  if (*pattern) {
    if (!spec.complexity) return bad("complexity_pattern", "needs complexity = \"{field}\"");
    RE2::Options opts;
    opts.set_log_errors(false);
    auto re = std::make_shared<RE2>(**pattern, opts);
    if (!re->ok()) return bad("complexity_pattern", "bad pattern: " + re->error());
    if (re->NumberOfCapturingGroups() < 1) {
      return bad("complexity_pattern", "the pattern needs a capture group (the level)");
    }
    spec.complexity_pattern = std::move(re);
  }
  if (table.contains("serve_levels")) {
    const nlohmann::json& l = table["serve_levels"];
    if (!spec.complexity) return bad("serve_levels", "needs complexity = \"{field}\"");
    if (!l.is_array() || l.empty()) return bad("serve_levels", "a non-empty list of strings");
    for (const nlohmann::json& level : l) {
      if (!level.is_string() || level.get<std::string>().empty()) {
        return bad("serve_levels", "a non-empty list of strings");
      }
      if (std::find(spec.levels.begin(), spec.levels.end(), level.get<std::string>()) !=
          spec.levels.end()) {
        return bad("serve_levels", "'" + level.get<std::string>() + "' is listed twice");
      }
      spec.levels.push_back(level.get<std::string>());
    }
  }
  Result<std::optional<std::string>> order = text("order", false);
  if (!order.ok()) return order.status();
  if (*order && **order != "content" && **order != "file") {
    return bad("order", "\"content\" (the default) or \"file\"");
  }
  spec.file_order = *order && **order == "file";
  Result<std::optional<std::string>> reference = text("reference", false);
  if (!reference.ok()) return reference.status();
  if (*reference) {
    std::filesystem::path ref(**reference);
    if (ref.is_relative() && !base_dir.empty()) ref = std::filesystem::path(base_dir) / ref;
    Result<std::string> code = ReadWholeFile(ref.lexically_normal().string());
    if (!code.ok()) return bad("reference", code.status().message());
    if (code->find("def solve(") == std::string::npos) {
      return bad("reference", "the file must define solve(prompt)");
    }
    spec.reference_code = std::move(code).value();
  }

  nlohmann::json answer =
      table.contains("answer") ? table["answer"] : nlohmann::json("triple_angle");
  Result<std::vector<Extractor>> chain = ParseExtractorChain(answer);
  if (!chain.ok()) return bad("", chain.status().message());
  spec.answer = std::move(chain).value();
  nlohmann::json scorer = table.contains("scorer") ? table["scorer"] : nlohmann::json("exact");
  std::string scorer_kind =
      scorer.is_object() && scorer.contains("kind") && scorer["kind"].is_string()
          ? scorer["kind"].get<std::string>()
          : (scorer.is_string() ? scorer.get<std::string>() : "");
  if (scorer_kind == "python" || scorer_kind == "judge") {
    if (!scorer.is_object()) scorer = {{"kind", scorer_kind}};
    if (scorer_kind == "python") {
      Result<PythonScorer> py = ReadPythonScorer(scorer, base_dir);
      if (!py.ok()) return bad("", py.status().message());
      spec.python = std::move(py).value();
    } else {
      Result<JudgeScorer> judge = ReadJudgeScorer(scorer);
      if (!judge.ok()) return bad("", judge.status().message());
      spec.judge = std::move(judge).value();
    }
  } else {
    Result<Scorer> sc = ParseScorer(scorer);
    if (!sc.ok()) return bad("", sc.status().message());
    spec.scorer = std::move(sc).value();
  }

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
  if (spec.python) identity["scorer"].erase("file");  // where it sits is not what it does
  // Added keys enter the identity only when set, so the hashes of earlier tasks stay as they were.
  if (*pattern) identity["complexity_pattern"] = **pattern;
  if (!spec.levels.empty()) identity["levels"] = spec.levels;
  if (spec.file_order) identity["order"] = "file";
  spec.definition_hash = Sha256Hex(identity.dump());
  spec.table = table;
  spec.table["dataset"] = spec.dataset;
  spec.table["scorer"] = scorer;
  // Workers judge without the reference program (DeclaredRowTask), and its path would not
  // resolve on them.
  spec.table.erase("reference");
  return spec;
}

Result<std::unique_ptr<DeclaredTask>> DeclaredTask::Create(DeclaredTaskSpec spec) {
  constexpr uint32_t kSkipped = UINT32_MAX;
  std::vector<std::string> levels = spec.levels;
  std::vector<uint32_t> row_level;                 // index into `levels` per row, or kSkipped
  std::vector<std::pair<uint64_t, uint32_t>> ids;  // (hash of id, row)
  auto visit = [&](size_t index, const nlohmann::json& row) -> Status {
    std::string level;
    if (spec.complexity) {
      Result<std::string> l = spec.complexity->Render(row);
      if (!l.ok()) return Status::InvalidArgument("complexity: " + l.status().message());
      level = *l;
      if (spec.complexity_pattern) {
        std::string captured;
        if (!RE2::FullMatch(level, *spec.complexity_pattern, &captured)) {
          row_level.push_back(kSkipped);
          return Status::OK();
        }
        level = captured;
      }
      if (level.empty()) return Status::InvalidArgument("complexity: empty");
      if (!spec.levels.empty() &&
          std::find(spec.levels.begin(), spec.levels.end(), level) == spec.levels.end()) {
        row_level.push_back(kSkipped);
        return Status::OK();
      }
    }
    Result<std::string> prompt = spec.prompt.Render(row);
    if (!prompt.ok()) return Status::InvalidArgument("prompt: " + prompt.status().message());
    Result<std::vector<std::string>> targets = spec.target.RenderList(row);
    if (!targets.ok()) return Status::InvalidArgument("target: " + targets.status().message());
    if (targets->empty() || std::all_of(targets->begin(), targets->end(), [](const std::string& t) {
          return TrimAscii(t).empty();
        })) {
      return Status::InvalidArgument("target: empty");
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
    // Compared as sample keys (RowSampleKey): two served rows never share one.
    for (size_t i = 0; i < ds->size(); ++i) {
      if (row_level[i] != kSkipped) ids.emplace_back(RowSampleKey(ds->content_hash(i)), i);
    }
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
    if (row_level[i] == kSkipped) {
      ++task->skipped_;
      continue;
    }
    task->rows_[levels[row_level[i]]].push_back(static_cast<uint32_t>(i));
  }
  if (task->rows_.empty()) {
    return Status::InvalidArgument("tasks." + task->spec_.name + ": " + task->spec_.dataset +
                                   ": no row is served (complexity_pattern or levels match none)");
  }
  if (task->spec_.complexity) task->levels_ = std::move(levels);
  // order = "file": each level's rows stay in file order (PermutedItem shuffles them per seed).
  if (task->spec_.file_order) return task;
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
  if (spec_.file_order)
    return rows[PermutedItem(spec_.name, complexity, sample, seed, rows.size())];
  if (std::optional<size_t> keyed = FindRow(complexity, sample, seed)) return *keyed;
  // The seed rotates the content-hash order, so two seeds start at different rows.
  uint64_t offset =
      Sha256U64(spec_.name + "|" + std::string(complexity) + "|" + std::to_string(seed)) %
      rows.size();
  return rows[(offset + static_cast<uint64_t>(sample)) % rows.size()];
}

Result<Instance> DeclaredInstance(const DeclaredTaskSpec& spec, const nlohmann::json& row,
                                  uint64_t content_hash, uint32_t line, std::string_view complexity,
                                  int64_t sample, uint64_t seed) {
  Result<std::string> prompt = spec.prompt.Render(row);
  Result<std::vector<std::string>> targets = spec.target.RenderList(row);
  if (!prompt.ok() || !targets.ok() || targets->empty()) {
    return Status::InvalidArgument(spec.dataset + ":" + std::to_string(line) +
                                   ": the row no longer renders");
  }
  Instance inst;
  inst.task = spec.name;
  inst.complexity = std::string(complexity);
  inst.sample = sample;
  inst.seed = seed;
  inst.prompt = std::move(prompt).value();
  std::string truth;
  for (const std::string& t : *targets) truth += (truth.empty() ? "" : " | ") + t;
  inst.truth = truth;
  inst.canonical_answer = targets->front();
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(content_hash));
  inst.data = {{"targets", *targets}, {"row_hash", hash}};
  if (line > 0) inst.data["line"] = line;
  if (spec.id) {
    Result<std::string> id = spec.id->Render(row);
    if (id.ok()) inst.data["id"] = *id;
  }
  return inst;
}

Result<Instance> DeclaredTask::Generate(std::string_view complexity, int64_t sample,
                                        uint64_t seed) const {
  Result<size_t> index = RowIndex(complexity, sample, seed);
  if (!index.ok()) return index.status();
  Result<nlohmann::json> row = dataset_.Row(*index);
  if (!row.ok()) return row.status();
  return DeclaredInstance(spec_, *row, dataset_.content_hash(*index), dataset_.line(*index),
                          complexity, sample, seed);
}

std::vector<int64_t> DeclaredTask::SampleKeys(std::string_view complexity, int64_t n, int64_t first,
                                              uint64_t seed) const {
  std::vector<int64_t> keys;
  auto it = rows_.find(std::string(complexity));
  if (it == rows_.end()) return keys;
  const std::vector<uint32_t>& rows = it->second;
  if (spec_.file_order) {  // sample indexes, mapped to rows by PermutedItem
    int64_t begin = std::min<int64_t>(std::max<int64_t>(first, 0), std::ssize(rows));
    int64_t end = n < 0 ? std::ssize(rows) : std::min<int64_t>(begin + n, std::ssize(rows));
    for (int64_t i = begin; i < end; ++i) keys.push_back(i);
    return keys;
  }
  if (n < 0) {  // every row, in content-hash order
    keys.reserve(rows.size());
    for (uint32_t r : rows) keys.push_back(RowSampleKey(dataset_.content_hash(r)));
    return keys;
  }
  uint64_t salt =
      Sha256U64(spec_.name + "|" + std::string(complexity) + "|" + std::to_string(seed));
  std::vector<std::pair<uint64_t, uint64_t>> order;  // (seeded rank, content hash)
  order.reserve(rows.size());
  for (uint32_t r : rows) {
    uint64_t h = dataset_.content_hash(r);
    order.emplace_back(Mix(h ^ salt), h);
  }
  size_t begin = std::min<size_t>(static_cast<size_t>(std::max<int64_t>(first, 0)), order.size());
  size_t end = std::min<size_t>(begin + static_cast<size_t>(n), order.size());
  if (end < order.size()) std::nth_element(order.begin(), order.begin() + end, order.end());
  std::sort(order.begin(), order.begin() + end);
  keys.reserve(end - begin);
  for (size_t i = begin; i < end; ++i) keys.push_back(RowSampleKey(order[i].second));
  return keys;
}

std::optional<size_t> DeclaredTask::FindRow(std::string_view complexity, int64_t key,
                                            uint64_t seed) const {
  auto it = rows_.find(std::string(complexity));
  if (it == rows_.end() || key < 0) return std::nullopt;
  const std::vector<uint32_t>& rows = it->second;
  if (spec_.file_order) {
    if (key >= std::ssize(rows)) return std::nullopt;
    return rows[PermutedItem(spec_.name, complexity, key, seed, rows.size())];
  }
  auto at = std::lower_bound(rows.begin(), rows.end(), key, [&](uint32_t r, int64_t k) {
    return RowSampleKey(dataset_.content_hash(r)) < k;
  });
  if (at == rows.end() || RowSampleKey(dataset_.content_hash(*at)) != key) return std::nullopt;
  return *at;
}

DeclaredJudgement JudgeDeclared(const DeclaredTaskSpec& spec, const Instance& instance,
                                std::string_view reply) {
  DeclaredJudgement out;
  std::optional<Extracted> got = ExtractAnswer(reply, spec.answer, instance.prompt);
  if (!got) {
    std::string tried;
    for (const Extractor& e : spec.answer) tried += (tried.empty() ? "" : ", ") + e.name;
    out.verdict.reason = "no answer found (tried " + tried + ")";
    return out;
  }
  out.answer = got->answer;
  out.extractor = got->source;
  // The chain's first extractor reads the task's answer format; the others are its fallbacks.
  out.verdict.source = got->position == 0 ? AnswerSource::kTags : AnswerSource::kFallback;
  if (spec.python || spec.judge) {
    out.verdict.parsed = got->answer;
    out.verdict.reason = "answer by " + got->source;
    return out;
  }
  std::vector<std::string> targets;
  if (instance.data.contains("targets") && instance.data["targets"].is_array()) {
    for (const nlohmann::json& t : instance.data["targets"]) {
      if (t.is_string()) targets.push_back(t.get<std::string>());
    }
  }
  AnswerSource source = out.verdict.source;
  out.verdict = Score(spec.scorer, got->answer, targets, instance.prompt);
  out.verdict.source = source;
  out.verdict.reason += " (answer by " + got->source + ")";
  return out;
}

Verdict DeclaredTask::Check(const Instance& instance, std::string_view answer) const {
  return JudgeDeclared(spec_, instance, answer).verdict;
}

std::string DeclaredTask::ReferenceSolution(const Instance& instance) const {
  if (!spec_.reference_code.empty()) {
    const Extractor& e = spec_.answer.front();
    std::string print =
        e.kind == ExtractorKind::kTripleAngle ? "print(\"<<<\" + str(answer) + \">>>\")"
        : e.kind == ExtractorKind::kBoxed     ? "print(\"\\\\boxed{\" + str(answer) + \"}\")"
                                              : "print(answer)";
    return spec_.reference_code + "\n\nprompt = " + PyStringLiteral(instance.prompt) +
           "\nanswer = solve(prompt)\n" + print + "\n";
  }
  std::string answer = FormatAnswerFor(spec_.answer.front(), instance.canonical_answer);
  return "# ORACLE, not a solver: prints the row's target.\nprint(" + PyStringLiteral(answer) +
         ")\n";
}

}  // namespace codesweep

namespace codesweep {
namespace {

constexpr int kMaxTaskFileDepth = 32;

}  // namespace

Result<std::vector<DeclaredTaskSpec>> ReadDeclaredTaskFile(const std::string& path) {
  Result<std::string> text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  nlohmann::json root;
  try {
    toml::table table = toml::parse(*text, path);
    root = TomlToJson(table, kMaxTaskFileDepth);
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << path << ":" << e.source().begin.line << ": " << e.description();
    return Status::InvalidArgument(where.str());
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  std::vector<nlohmann::json> tables;
  if (root.contains("tasks")) {
    if (!root["tasks"].is_array() || root.size() != 1) {
      return Status::InvalidArgument(path + ": a task file is one task's table or [[tasks]] only");
    }
    for (const nlohmann::json& t : root["tasks"]) tables.push_back(t);
  } else {
    tables.push_back(root);
  }
  std::vector<DeclaredTaskSpec> specs;
  for (const nlohmann::json& t : tables) {
    Result<DeclaredTaskSpec> spec = ParseDeclaredTask(t, dir);
    if (!spec.ok()) return Status::InvalidArgument(path + ": " + spec.status().message());
    specs.push_back(std::move(spec).value());
  }
  return specs;
}

DeclaredRowTask::DeclaredRowTask(std::shared_ptr<const DeclaredTaskSpec> spec, nlohmann::json row)
    : spec_(std::move(spec)),
      row_(std::move(row)),
      hash_(Sha256U64(row_.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))) {}

namespace {

// A job's task definition, parsed (templates, extractors, regexes, scorer).
struct WireDef {
  std::shared_ptr<const DeclaredTaskSpec> spec;
  std::optional<ModelSpec> judge_model;
  GenSettings judge_gen;
};

Result<std::shared_ptr<const WireDef>> ParseWireDef(std::string_view task_def) {
  nlohmann::json def = nlohmann::json::parse(task_def, nullptr, false);
  if (!def.is_object() || !def.contains("task")) {
    return Status::InvalidArgument("the job's task definition is not a JSON object with 'task'");
  }
  Result<DeclaredTaskSpec> spec = ParseDeclaredTask(def["task"], "");
  if (!spec.ok()) return spec.status();
  auto out = std::make_shared<WireDef>();
  out->spec = std::make_shared<const DeclaredTaskSpec>(std::move(spec).value());
  if (def.contains("judge_model")) {
    const nlohmann::json& m = def["judge_model"];
    try {
      ModelSpec model;
      model.id = m.at("id").get<std::string>();
      model.provider = m.at("provider").get<std::string>();
      model.name = m.at("name").get<std::string>();
      model.options_json = m.at("options_json").get<std::string>();
      const nlohmann::json& g = m.at("gen");
      out->judge_gen.temperature = g.at("temperature").get<double>();
      out->judge_gen.top_p = g.at("top_p").get<double>();
      out->judge_gen.max_tokens = g.at("max_tokens").get<int>();
      out->judge_gen.stop = g.at("stop").get<std::vector<std::string>>();
      if (g.contains("seed")) out->judge_gen.seed = g["seed"].get<int64_t>();
      out->judge_model = std::move(model);
    } catch (const nlohmann::json::exception& e) {
      return Status::InvalidArgument(std::string("the job's judge model is malformed: ") +
                                     e.what());
    }
  }
  return std::shared_ptr<const WireDef>(std::move(out));
}

// Every job of a declared task carries the same definition: a worker parses each distinct one
// once (at most kMaxCachedDefs kept; the cache starts over when full).
constexpr size_t kMaxCachedDefs = 64;

Result<std::shared_ptr<const WireDef>> CachedWireDef(std::string_view task_def) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::shared_ptr<const WireDef>> cache;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(std::string(task_def));
    if (it != cache.end()) return it->second;
  }
  Result<std::shared_ptr<const WireDef>> parsed = ParseWireDef(task_def);
  if (!parsed.ok()) return parsed.status();
  std::lock_guard<std::mutex> lock(mu);
  if (cache.size() >= kMaxCachedDefs) cache.clear();
  cache.emplace(std::string(task_def), *parsed);
  return parsed;
}

}  // namespace

Result<std::unique_ptr<DeclaredRowTask>> DeclaredRowTask::FromWire(std::string_view task_def,
                                                                   std::string_view task_row) {
  Result<std::shared_ptr<const WireDef>> def = CachedWireDef(task_def);
  if (!def.ok()) return def.status();
  nlohmann::json row = nlohmann::json::parse(task_row, nullptr, false);
  if (!row.is_object()) {
    return Status::InvalidArgument("the job's dataset row is not a JSON object");
  }
  auto task = std::make_unique<DeclaredRowTask>((*def)->spec, std::move(row));
  task->judge_model_ = (*def)->judge_model;
  task->judge_gen_ = (*def)->judge_gen;
  return task;
}

Result<Instance> DeclaredRowTask::Generate(std::string_view complexity, int64_t sample,
                                           uint64_t seed) const {
  return DeclaredInstance(*spec_, row_, hash_, 0, complexity, sample, seed);
}

Verdict DeclaredRowTask::Check(const Instance& instance, std::string_view answer) const {
  return JudgeDeclared(*spec_, instance, answer).verdict;
}

std::string DeclaredRowTask::ReferenceSolution(const Instance& instance) const {
  std::string answer = FormatAnswerFor(spec_->answer.front(), instance.canonical_answer);
  return "print(" + PyStringLiteral(answer) + ")\n";
}

}  // namespace codesweep
