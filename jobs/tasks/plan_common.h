// Helpers shared by the three planning tasks (path_plan, boxlift, boxnet): seeding, a bounded
// character scanner for the answer grammars, answer-span fallbacks and Python-style number text.
// Pure functions and small value types; safe on any bytes and from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/hash.h"

namespace codesweep {

// Largest answer (inside <<< >>>) a planning checker reads; longer ones get a "too long" verdict.
inline constexpr size_t kMaxPlanAnswerBytes = 1 << 20;

// Rng for one instance, seeded from Sha256U64("task|complexity|sample|seed").
Rng PlanRng(std::string_view task, std::string_view complexity, int64_t sample, uint64_t seed);

// The text inside the last <<<...>>> or, when there is none, the last balanced top-level
// "[...]" span of the reply (brackets inside it nest); nullopt when neither exists.
std::optional<std::string> AnswerOrLastList(std::string_view reply);

// Deepest nesting of ()[]{} in `s` (string literals are not special); stops counting at `cap`.
int BracketDepth(std::string_view s, int cap);

// Shortest text that reads back as the same double, Python-style ("1.0", "-0.25", "1e-05").
std::string PyFloat(double v);

// A cursor over answer text: whitespace skipping, literal matching, bounded number parsing.
class PlanScanner {
 public:
  explicit PlanScanner(std::string_view text) : s_(text) {}
  void SkipSpace();
  // Skips whitespace, then consumes `c` if it is next.
  bool Eat(char c);
  bool EatWord(std::string_view w);  // skips whitespace first
  // Skips whitespace, then an optionally signed decimal integer of at most 12 digits.
  std::optional<int64_t> Int();
  // Skips whitespace, then a finite decimal number (sign, digits, '.', exponent; <= 64 chars).
  std::optional<double> Number();
  bool AtEnd() const { return pos_ >= s_.size(); }
  size_t pos() const { return pos_; }
  void set_pos(size_t p) { pos_ = p; }
  char Peek() const { return AtEnd() ? '\0' : s_[pos_]; }
  std::string_view rest() const { return s_.substr(pos_); }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace codesweep
