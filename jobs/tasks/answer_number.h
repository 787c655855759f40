// Number reading for checkers: exact integers (number_multiply) and real numbers (gsm_hard).
// Pure functions, linear in the input, safe on any bytes; callable from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "jobs/tasks/task.h"

namespace codesweep {

// The integer written in `text` as a canonical decimal string ("-123", no leading zeros), or
// nullopt. If the whole text is one integer (grouping by ',', '_', spaces; '$' and a trailing
// ".0" allowed) it is taken; otherwise the last run of digits (with ',' grouping) in the text.
std::optional<std::string> ReadInteger(std::string_view text);

// Judges `answer` (a reply) against the exact integer `truth`: the last <<<...>>>, else the last
// integer in the whole reply. Exact equality of the value.
Verdict CheckExactInteger(std::string_view answer, const std::string& truth);

// The last real number in `text`: grouping commas, decimals, exponents, "a/b", a leading '-' or
// '−'; nullopt if none or not finite.
std::optional<double> ReadLastNumber(std::string_view text);

// |got - want| <= rel * |want|, or <= abs_tol when want is (near) zero. False for NaN/inf.
bool NearlyEqual(double got, double want, double rel = 1e-3, double abs_tol = 1e-9);

}  // namespace codesweep
