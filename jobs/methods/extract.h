// Reading model replies: Python code blocks (PAPER.md §7, widened as documented in
// docs/methods.md), the TERMINATE marker of multi-turn refinement, and self-estimate scores.
// Pure functions, safe on any bytes and from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace codesweep {

// The bodies of the fenced Python blocks in `reply`, in order. A block opens with ``` followed
// by "python", "python3", "py" or nothing on the same line, and closes with a line starting
// with ```. Blocks in other languages (```sh, ```json) and unclosed blocks are skipped.
std::vector<std::string> ExtractCodeBlocks(std::string_view reply);

// True if the reply says TERMINATE (as a word, upper case, anywhere).
bool SaysTerminate(std::string_view reply);

struct SelfEstimateScores {
  std::optional<double> code;  // 0..10, clamped; nullopt when not found
  std::optional<double> text;
};
// Reads "Code score: 8" / "text: 7/10" / "**Code**: 8.5" style scores, case-insensitive; the
// last mention of each wins. Numbers outside 0..10 are clamped.
SelfEstimateScores ParseSelfEstimate(std::string_view reply);

}  // namespace codesweep
