// Rule-based scorers of declared tasks: how an extracted answer is judged against the row's
// accepted targets. A scorer is named in a task file by kind ("exact") or as a table with its
// parameters ({ kind = "numeric", rel_tol = 1e-3 }). Every verdict says why, in words. Pure
// functions, bounded work on any bytes; any thread. (Python and LLM-judge scorers run elsewhere:
// they need the sandbox or a model.)
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "jobs/tasks/task.h"

namespace re2 {
class RE2;
}

namespace codesweep {

enum class ScorerKind {
  kExact,       // byte-equal after trimming surrounding whitespace
  kNormalized,  // equal after lower-casing and removing punctuation, articles, extra spaces
  kNumeric,     // equal numbers within rel_tol / abs_tol (fractions, separators, units, %)
  kChoice,      // the same option letter
  kRegex,       // the answer matches `pattern` (whole answer), or each target as a pattern
  kContains,    // the normalized answer contains a normalized target
  kSet,         // the same set of items (split on , ; newlines and "and"); partial = F1
  kMath,        // the built-in MATH equivalence (fractions, radicals, pi, tuples)
  // The checkers of the paper's dataset tasks, by name (issue 15):
  kYesNo,       // the answer's leading Yes/No word equals the target's
  kOption,      // the option the answer names (letter or the text of an option listed in the
                // prompt) is the target's letter
  kLastNumber,  // the last number in the answer equals the target within rel_tol / abs_tol
};

struct Scorer {
  ScorerKind kind = ScorerKind::kExact;
  std::string name;
  double rel_tol = 1e-6;                  // kNumeric
  double abs_tol = 1e-9;                  // kNumeric
  bool case_sensitive = true;             // kExact
  std::shared_ptr<const re2::RE2> regex;  // kRegex with a fixed pattern
};

// A scorer from its spec; errors name the offending key.
Result<Scorer> ParseScorer(const nlohmann::json& spec);

// Judges `answer` (already extracted) against `targets` (any one accepted; kSet compares with the
// targets as one set). Verdict::parsed is the answer as the scorer read it. `prompt` is the
// question (kOption reads the options listed in it).
Verdict Score(const Scorer& scorer, std::string_view answer,
              const std::vector<std::string>& targets, std::string_view prompt = {});

// SQuAD-style normalization: lower case, punctuation and the articles a/an/the removed,
// whitespace collapsed.
std::string NormalizeText(std::string_view s);
// A number written in `s` ("1,234", "3/4", "-2.5e3", "$12", "45%", "12 km"); nullopt if none.
std::optional<double> ParseNumber(std::string_view s);

}  // namespace codesweep
