// DeclaredTask: a task written in a sweep or task file instead of C++ (issue 15). It serves the
// rows of a dataset through a prompt template, reads the answer with an extractor chain and judges
// it with a rule-based scorer against the targets a target template gives. The rows of each
// complexity level are served in a seeded order that depends on their content only (the order of
// the file does not matter; order = "file" instead permutes them in file order, as the shipped
// dataset tasks in data/ do), and each instance carries its row's content hash.
// Immutable after Create(); safe to call from many threads at once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "jobs/tasks/declared/dataset.h"
#include "jobs/tasks/declared/extract.h"
#include "jobs/tasks/declared/model_scorers.h"
#include "jobs/tasks/declared/scorers.h"
#include "jobs/tasks/declared/template.h"
#include "jobs/tasks/task.h"

namespace re2 {
class RE2;
}

namespace codesweep {

struct DeclaredTaskSpec {
  std::string name;
  std::string description;
  std::string dataset;         // path of the dataset file, resolved against the declaring file
  std::optional<Template> id;  // a stable id per row; default: the row's content hash
  Template prompt;
  Template target;
  std::optional<Template> complexity;  // a field that becomes the complexity axis
  // Optional RE2 pattern the rendered complexity must match in full; its first capture group is
  // the level ("Level ([1-5])" turns "Level 3" into "3"). Rows that do not match are not served.
  std::shared_ptr<const re2::RE2> complexity_pattern;
  // `serve_levels`: the levels, in order (complexity_levels()); rows at other levels are not
  // served. Empty: the levels in order of first appearance, all served.
  std::vector<std::string> levels;
  // How samples map to rows: false (order = "content", the default) serves each level's rows in
  // the order of their content hashes rotated by the seed, so reordering the file changes
  // nothing; true (order = "file") serves a seeded Fisher-Yates permutation of the rows in file
  // order (PermutedItem, common.h), the order of the paper's built-in dataset tasks.
  bool file_order = false;
  // Python source defining solve(prompt) -> answer (from `reference = "file.py"`); empty: the
  // reference program is an oracle that prints the row's first target.
  std::string reference_code;
  std::vector<Extractor> answer;       // default: triple_angle
  Scorer scorer;                       // default: exact (unused when python or judge is set)
  std::optional<PythonScorer> python;  // scorer = { kind = "python", file = "..." }
  std::optional<JudgeScorer> judge;    // scorer = { kind = "judge", model = "..." }
  DatasetLimits limits;
  // SHA-256 (hex) of everything that changes what a cell asks or how it is judged: the name,
  // templates, extractors and scorer as written. Part of the cell identity.
  std::string definition_hash;
  // The declaration as a JSON table a worker can parse again without any file: the dataset path
  // resolved, a python scorer's source inlined (scorer.source). Sent with every job.
  nlohmann::json table;
};

// The error for `levels`, which once meant two things: in a sweep, the levels to run (now
// run_levels); in a declaration, the levels the task serves (now serve_levels).
inline constexpr const char* kLevelsIsAmbiguous =
    "no longer a key (it meant two things): write run_levels = [...] in the sweep's entry for the "
    "complexity levels to run, or serve_levels = [...] in the declaration for the levels the task "
    "serves (rows at other levels are not served)";

// Reads a task declaration (a TOML table converted to JSON). `base_dir` resolves a relative
// dataset (and reference) path. Errors are "tasks.<name>.<key>: what".
Result<DeclaredTaskSpec> ParseDeclaredTask(const nlohmann::json& table,
                                           const std::string& base_dir);

// The sample index of a row in cells and jobs: its content hash as a non-negative 63-bit number.
// A cell names its row by content, so reordering the file changes no cell. (Tasks with
// order = "file" number their samples 0, 1, ... instead: see DeclaredTask::SampleKeys.)
inline int64_t RowSampleKey(uint64_t content_hash) {
  return static_cast<int64_t>(content_hash >> 1);
}

// The instance a row gives (what Generate returns for it): the rendered prompt, the targets,
// and in `data` the targets, the row's hash, line and id.
Result<Instance> DeclaredInstance(const DeclaredTaskSpec& spec, const nlohmann::json& row,
                                  uint64_t content_hash, uint32_t line, std::string_view complexity,
                                  int64_t sample, uint64_t seed);

// How a reply fares under a task's extractors and rule-based scorer. `extractor` is the name of
// the extractor that found the answer ("" when none did); `answer` is what it found. For python
// and judge scorers `verdict` is only the extraction's outcome (the runner scores).
struct DeclaredJudgement {
  Verdict verdict;
  std::optional<std::string> answer;
  std::string extractor;
};
DeclaredJudgement JudgeDeclared(const DeclaredTaskSpec& spec, const Instance& instance,
                                std::string_view reply);

// Reads a task file: TOML whose top level is one task's table, or holds `[[tasks]]` tables.
// Paths in it resolve against the file's folder. Errors name the file.
Result<std::vector<DeclaredTaskSpec>> ReadDeclaredTaskFile(const std::string& path);

class DeclaredTask : public Task {
 public:
  // Opens the dataset and checks every row: the prompt and target render, no target is empty, no
  // two rows share an id. Errors name the dataset file and line.
  static Result<std::unique_ptr<DeclaredTask>> Create(DeclaredTaskSpec spec);

  std::string_view name() const override { return spec_.name; }
  std::string_view description() const override { return spec_.description; }
  std::vector<std::string> complexity_levels() const override { return levels_; }
  Status ValidateComplexity(std::string_view complexity) const override;
  int64_t InstanceCount(std::string_view complexity) const override;
  Result<Instance> Generate(std::string_view complexity, int64_t sample,
                            uint64_t seed) const override;
  Verdict Check(const Instance& instance, std::string_view answer) const override;
  std::string ReferenceSolution(const Instance& instance) const override;
  bool has_partial_score() const override {
    return spec_.scorer.kind == ScorerKind::kSet || spec_.python || spec_.judge;
  }

  const DeclaredTaskSpec& spec() const { return spec_; }
  size_t row_count() const { return dataset_.size(); }
  const Dataset& dataset() const { return dataset_; }
  // Rows not served: their complexity does not match complexity_pattern or is not in `levels`.
  size_t skipped_rows() const { return skipped_; }

  // The sample keys of the cells of one level. Default order (content): row keys
  // (RowSampleKey), every row when n < 0, else the n rows after the first `first` in a seeded
  // order that depends on each row's content only, so adding rows to the file moves no row
  // already picked ahead of another. order = "file": the sample indexes first, first + 1, ...
  // (n of them, or up to the level's row count when n < 0), which PermutedItem maps to rows.
  // At most the level's rows.
  std::vector<int64_t> SampleKeys(std::string_view complexity, int64_t n, int64_t first,
                                  uint64_t seed) const;
  // The dataset row of sample key `key` at this level under `seed` (what Generate serves for
  // it), or nullopt. Default order: binary search over the level's rows, which are kept in
  // content-hash order (the seed plays no part); order = "file": the seeded permutation.
  std::optional<size_t> FindRow(std::string_view complexity, int64_t key, uint64_t seed) const;
  // The dataset row behind (level, sample, seed): what Generate serves. order = "file": the
  // sample-th item of the seeded permutation of the level's rows in file order. Default order:
  // the row whose sample key is `sample`, else the sample-th row of the level's seeded rotation.
  Result<size_t> RowIndex(std::string_view complexity, int64_t sample, uint64_t seed) const;

 private:
  DeclaredTask(DeclaredTaskSpec spec, Dataset dataset)
      : spec_(std::move(spec)), dataset_(std::move(dataset)) {}

  DeclaredTaskSpec spec_;
  Dataset dataset_;
  std::vector<std::string> levels_;                    // in order of first appearance
  std::map<std::string, std::vector<uint32_t>> rows_;  // level -> row indexes
  size_t skipped_ = 0;
};

}  // namespace codesweep

namespace codesweep {

// A declared task that knows one row only: what a worker builds from a job's task_def and
// task_row (JobSpec), with no dataset file. Generate gives that row's instance whatever the
// sample index.
class DeclaredRowTask : public Task {
 public:
  DeclaredRowTask(std::shared_ptr<const DeclaredTaskSpec> spec, nlohmann::json row);
  // From the JSON texts a JobSpec carries: task_def is {"task": the declaration as
  // DeclaredTaskSpec::table, "judge_model": {id, provider, name, options_json, gen} when the
  // scorer is a judge}; task_row the row. Errors say which is malformed.
  static Result<std::unique_ptr<DeclaredRowTask>> FromWire(std::string_view task_def,
                                                           std::string_view task_row);

  std::string_view name() const override { return spec_->name; }
  std::string_view description() const override { return spec_->description; }
  std::vector<std::string> complexity_levels() const override { return {}; }
  Status ValidateComplexity(std::string_view) const override { return Status::OK(); }
  int64_t InstanceCount(std::string_view) const override { return 1; }
  bool has_partial_score() const override {
    return spec_->scorer.kind == ScorerKind::kSet || spec_->python || spec_->judge;
  }
  Result<Instance> Generate(std::string_view complexity, int64_t sample,
                            uint64_t seed) const override;
  Verdict Check(const Instance& instance, std::string_view answer) const override;
  std::string ReferenceSolution(const Instance& instance) const override;

  const DeclaredTaskSpec& spec() const { return *spec_; }
  const nlohmann::json& row() const { return row_; }
  // A judge scorer's model as the sweep declares it (set by FromWire when the definition has
  // one).
  const std::optional<ModelSpec>& judge_model() const { return judge_model_; }
  const GenSettings& judge_gen() const { return judge_gen_; }

 private:
  std::shared_ptr<const DeclaredTaskSpec> spec_;
  nlohmann::json row_;
  uint64_t hash_;
  std::optional<ModelSpec> judge_model_;
  GenSettings judge_gen_;
};

}  // namespace codesweep
