#include "jobs/tasks/answer_number.h"

#include <cmath>
#include <cstdlib>

#include "jobs/tasks/common.h"

namespace codesweep {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string Canonical(bool negative, std::string_view digits) {
  size_t nz = digits.find_first_not_of('0');
  if (nz == std::string_view::npos) return "0";
  std::string out = negative ? "-" : "";
  out.append(digits.substr(nz));
  return out;
}

// Whole text as one integer, ignoring grouping and decoration.
std::optional<std::string> WholeInteger(std::string_view text) {
  std::string t;
  for (char c : TrimAscii(text)) {
    if (c == ',' || c == '_' || c == ' ' || c == '$' || c == '\'') continue;
    t += c;
  }
  size_t i = 0;
  bool neg = false;
  if (!t.empty() && (t[0] == '-' || t[0] == '+')) neg = t[0] == '-', i = 1;
  size_t start = i;
  while (i < t.size() && IsDigit(t[i])) ++i;
  size_t end = i;
  if (end == start) return std::nullopt;
  if (i < t.size() && t[i] == '.') {
    ++i;
    while (i < t.size() && t[i] == '0') ++i;
  }
  if (i != t.size()) return std::nullopt;
  return Canonical(neg, std::string_view(t).substr(start, end - start));
}

}  // namespace

std::optional<std::string> ReadInteger(std::string_view text) {
  if (auto whole = WholeInteger(text)) return whole;
  size_t end = text.size();
  while (end > 0 && !IsDigit(text[end - 1])) --end;
  if (end == 0) return std::nullopt;
  size_t begin = end;
  while (begin > 0 && (IsDigit(text[begin - 1]) ||
                       (text[begin - 1] == ',' && begin >= 2 && IsDigit(text[begin - 2])))) {
    --begin;
  }
  std::string digits;
  for (size_t i = begin; i < end; ++i) {
    if (IsDigit(text[i])) digits += text[i];
  }
  bool neg = begin > 0 && text[begin - 1] == '-';
  if (!neg && begin >= 3 && text.substr(begin - 3, 3) == "\xE2\x88\x92") neg = true;  // U+2212
  return Canonical(neg, digits);
}

Verdict CheckExactInteger(std::string_view answer, const std::string& truth) {
  Verdict v;
  std::optional<std::string> inner = LastTripleAngle(answer);
  std::optional<std::string> got = inner ? ReadInteger(*inner) : ReadInteger(answer);
  v.source = inner ? AnswerSource::kTags : AnswerSource::kNone;
  if (!got) {
    v.reason = inner ? "no integer inside <<<>>>" : "no <<<answer>>> and no integer in the reply";
    v.parsed = Truncate(inner.value_or(""));
    return v;
  }
  if (!inner) v.source = AnswerSource::kFallback;
  v.parsed = Truncate(*got);
  v.correct = *got == truth;
  v.score = v.correct ? 1.0 : 0.0;
  v.reason = v.correct ? "ok" : (inner ? "wrong value" : "wrong value (no <<<>>>, last integer)");
  return v;
}

namespace {

// The number token whose last digit is text[end - 1]; sets *begin_out to where it starts
// (including a leading minus sign).
std::optional<double> NumberEndingAt(std::string_view text, size_t end, size_t* begin_out) {
  size_t begin = end;
  auto part = [&](char c) { return IsDigit(c) || c == '.' || c == ','; };
  while (begin > 0 && part(text[begin - 1])) --begin;
  // Exponent: "1.5e+10" was cut at 'e'; step back over "e", "e+" or "e-" when digits precede.
  size_t skip = 0;
  if (begin >= 2 && (text[begin - 1] == 'e' || text[begin - 1] == 'E') &&
      IsDigit(text[begin - 2])) {
    skip = 1;
  } else if (begin >= 3 && (text[begin - 1] == '+' || text[begin - 1] == '-') &&
             (text[begin - 2] == 'e' || text[begin - 2] == 'E') && IsDigit(text[begin - 3])) {
    skip = 2;
  }
  if (skip > 0) {
    begin -= skip;
    while (begin > 0 && part(text[begin - 1])) --begin;
  }
  if (end - begin > 400) return std::nullopt;
  std::string token;
  for (size_t i = begin; i < end; ++i) {
    if (text[i] != ',') token += text[i];
  }
  char* stop = nullptr;
  double value = std::strtod(token.c_str(), &stop);
  if (stop == token.c_str() || !std::isfinite(value)) return std::nullopt;
  if (begin > 0 && text[begin - 1] == '-') {
    value = -value;
    begin -= 1;
  } else if (begin >= 3 && text.substr(begin - 3, 3) == "\xE2\x88\x92") {  // U+2212
    value = -value;
    begin -= 3;
  }
  *begin_out = begin;
  return value;
}

}  // namespace

std::optional<double> ReadLastNumber(std::string_view text) {
  size_t end = text.size();
  while (end > 0 && !IsDigit(text[end - 1])) --end;
  if (end == 0) return std::nullopt;
  size_t begin = 0;
  std::optional<double> value = NumberEndingAt(text, end, &begin);
  if (!value) return std::nullopt;
  // "a/b" (one level only): divide when the token is directly preceded by "<digit>/".
  if (begin >= 2 && text[begin - 1] == '/' && IsDigit(text[begin - 2]) && *value != 0) {
    size_t numer_begin = 0;
    std::optional<double> numer = NumberEndingAt(text, begin - 1, &numer_begin);
    if (numer) return *numer / *value;
  }
  return value;
}

bool NearlyEqual(double got, double want, double rel, double abs_tol) {
  if (!std::isfinite(got) || !std::isfinite(want)) return false;
  double diff = std::fabs(got - want);
  if (std::fabs(want) < abs_tol) return diff <= abs_tol;
  return diff <= rel * std::fabs(want);
}

}  // namespace codesweep
