// DeclaredTask: a task written in a sweep or task file instead of C++ (issue 15). It serves the
// rows of a dataset through a prompt template, reads the answer with an extractor chain and judges
// it with a rule-based scorer against the targets a target template gives. The rows of each
// complexity level are served in a seeded order that depends on their content only (the order of
// the file does not matter), and each instance carries its row's content hash.
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

namespace codesweep {

struct DeclaredTaskSpec {
  std::string name;
  std::string description;
  std::string dataset;         // path of the dataset file, resolved against the declaring file
  std::optional<Template> id;  // a stable id per row; default: the row's content hash
  Template prompt;
  Template target;
  std::optional<Template> complexity;  // a field that becomes the complexity axis
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

// Reads a task declaration (a TOML table converted to JSON). `base_dir` resolves a relative
// dataset path. Errors are "tasks.<name>.<key>: what".
Result<DeclaredTaskSpec> ParseDeclaredTask(const nlohmann::json& table,
                                           const std::string& base_dir);

// The sample index of a row in cells and jobs: its content hash as a non-negative 63-bit number.
// A cell names its row by content, so reordering the file changes no cell.
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

  // The sample keys (RowSampleKey) of the cells of one level: every row when n < 0, else the n
  // rows after the first `first` in a seeded order that depends on each row's content only, so
  // adding rows to the file moves no row already picked ahead of another. At most the level's
  // rows.
  std::vector<int64_t> SampleKeys(std::string_view complexity, int64_t n, int64_t first,
                                  uint64_t seed) const;
  // The dataset row whose sample key is `key` at this level, or nullopt (binary search over the
  // level's rows, which are kept in content-hash order).
  std::optional<size_t> FindRow(std::string_view complexity, int64_t key) const;

 private:
  DeclaredTask(DeclaredTaskSpec spec, Dataset dataset)
      : spec_(std::move(spec)), dataset_(std::move(dataset)) {}
  // The dataset row behind (level, sample, seed): the row whose sample key is `sample`, else the
  // sample-th row of the level's seeded rotation.
  Result<size_t> RowIndex(std::string_view complexity, int64_t sample, uint64_t seed) const;

  DeclaredTaskSpec spec_;
  Dataset dataset_;
  std::vector<std::string> levels_;                    // in order of first appearance
  std::map<std::string, std::vector<uint32_t>> rows_;  // level -> row indexes
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
