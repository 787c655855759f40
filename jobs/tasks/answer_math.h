// Answer equivalence for MATH-style answers (LaTeX numbers, fractions, radicals, pi multiples,
// tuples). Rule-based replacement for the original GPT-4o equivalence judge; see docs/tasks.md for
// what it does not handle. Pure functions, bounded work on any bytes; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace codesweep {

// Content of the last \boxed{...} (or \fbox{...}) in `text`, braces balanced; nullopt if none.
std::optional<std::string> LastBoxed(std::string_view text);
// Strips presentation: $, \left/\right, spacing, \text{} wrappers, degrees, percent, units,
// "x =" prefixes, thousands separators, whitespace; \dfrac -> \frac.
std::string NormalizeMathAnswer(std::string_view s);
// Numeric value of a normalized answer (numbers, + - * / ^, \frac, \sqrt, \pi, \cdot, \times,
// implicit products); nullopt if it is not a closed numeric expression.
std::optional<double> EvaluateMath(std::string_view normalized);
// True if `got` and `truth` denote the same answer (see above; relative tolerance 1e-6).
bool MathEquivalent(std::string_view got, std::string_view truth);

}  // namespace codesweep
