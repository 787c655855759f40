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
  // The levels, in order (complexity_levels()); rows at other levels are not served. Empty: the
  // levels in order of first appearance, all served.
  std::vector<std::string> levels;
  // How samples map to rows: false (order = "content", the default) serves each level's rows in
  // the order of their content hashes rotated by the seed, so reordering the file changes
  // nothing; true (order = "file") serves a seeded Fisher-Yates permutation of the rows in file
  // order (PermutedItem, common.h), the order of the paper's built-in dataset tasks.
  bool file_order = false;
  // Python source defining solve(prompt) -> answer (from `reference = "file.py"`); empty: the
  // reference program is an oracle that prints the row's first target.
  std::string reference_code;
  std::vector<Extractor> answer;  // default: triple_angle
  Scorer scorer;                  // default: exact
  DatasetLimits limits;
  // SHA-256 (hex) of everything that changes what a cell asks or how it is judged: the name,
  // templates, extractors and scorer as written. Part of the cell identity.
  std::string definition_hash;
};

// Reads a task declaration (a TOML table converted to JSON). `base_dir` resolves a relative
// dataset (and reference) path. Errors are "tasks.<name>.<key>: what".
Result<DeclaredTaskSpec> ParseDeclaredTask(const nlohmann::json& table,
                                           const std::string& base_dir);

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
  bool has_partial_score() const override { return spec_.scorer.kind == ScorerKind::kSet; }

  const DeclaredTaskSpec& spec() const { return spec_; }
  size_t row_count() const { return dataset_.size(); }
  // Rows not served: their complexity does not match complexity_pattern or is not in `levels`.
  size_t skipped_rows() const { return skipped_; }

 private:
  DeclaredTask(DeclaredTaskSpec spec, Dataset dataset)
      : spec_(std::move(spec)), dataset_(std::move(dataset)) {}
  // The dataset row behind (level, sample, seed).
  Result<size_t> RowIndex(std::string_view complexity, int64_t sample, uint64_t seed) const;

  DeclaredTaskSpec spec_;
  Dataset dataset_;
  std::vector<std::string> levels_;                    // in order of first appearance
  std::map<std::string, std::vector<uint32_t>> rows_;  // level -> row indexes
  size_t skipped_ = 0;
};

}  // namespace codesweep
