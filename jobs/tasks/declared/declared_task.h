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
  Scorer scorer;                       // default: exact
  DatasetLimits limits;
  // SHA-256 (hex) of everything that changes what a cell asks or how it is judged: the name,
  // templates, extractors and scorer as written. Part of the cell identity.
  std::string definition_hash;
};

// Reads a task declaration (a TOML table converted to JSON). `base_dir` resolves a relative
// dataset path. Errors are "tasks.<name>.<key>: what".
Result<DeclaredTaskSpec> ParseDeclaredTask(const nlohmann::json& table,
                                           const std::string& base_dir);

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
  bool has_partial_score() const override { return spec_.scorer.kind == ScorerKind::kSet; }

  const DeclaredTaskSpec& spec() const { return spec_; }
  size_t row_count() const { return dataset_.size(); }

 private:
  DeclaredTask(DeclaredTaskSpec spec, Dataset dataset)
      : spec_(std::move(spec)), dataset_(std::move(dataset)) {}
  // The dataset row behind (level, sample, seed).
  Result<size_t> RowIndex(std::string_view complexity, int64_t sample, uint64_t seed) const;

  DeclaredTaskSpec spec_;
  Dataset dataset_;
  std::vector<std::string> levels_;                    // in order of first appearance
  std::map<std::string, std::vector<uint32_t>> rows_;  // level -> row indexes
};

}  // namespace codesweep
