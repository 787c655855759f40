#include "jobs/tasks/plan_common.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "jobs/tasks/common.h"

namespace codesweep {

Rng PlanRng(std::string_view task, std::string_view complexity, int64_t sample, uint64_t seed) {
  std::string key(task);
  key += '|';
  key += complexity;
  key += '|';
  key += std::to_string(sample);
  key += '|';
  key += std::to_string(seed);
  return Rng(Sha256U64(key));
}

std::optional<std::string> AnswerOrLastList(std::string_view reply) {
  if (auto inner = LastTripleAngle(reply)) return inner;
  size_t close = reply.rfind(']');
  if (close == std::string_view::npos) return std::nullopt;
  int depth = 0;
  for (size_t i = close + 1; i-- > 0;) {
    if (reply[i] == ']') ++depth;
    if (reply[i] == '[' && --depth == 0) return std::string(reply.substr(i, close - i + 1));
  }
  return std::nullopt;
}

int BracketDepth(std::string_view s, int cap) {
  int depth = 0, deepest = 0;
  for (char c : s) {
    if (c == '(' || c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest >= cap) return cap;
    } else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

std::string PyFloat(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  std::string out(buf, res.ptr);
  if (out.find_first_of(".en") == std::string::npos) out += ".0";
  return out;
}

void PlanScanner::SkipSpace() {
  while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' ||
                              s_[pos_] == '\r' || s_[pos_] == '\f' || s_[pos_] == '\v')) {
    ++pos_;
  }
}

bool PlanScanner::Eat(char c) {
  SkipSpace();
  if (pos_ < s_.size() && s_[pos_] == c) {
    ++pos_;
    return true;
  }
  return false;
}

bool PlanScanner::EatWord(std::string_view w) {
  SkipSpace();
  if (s_.substr(pos_, w.size()) != w) return false;
  pos_ += w.size();
  return true;
}

std::optional<int64_t> PlanScanner::Int() {
  SkipSpace();
  size_t p = pos_;
  bool neg = false;
  if (p < s_.size() && (s_[p] == '-' || s_[p] == '+')) neg = s_[p++] == '-';
  size_t digits_start = p;
  int64_t v = 0;
  while (p < s_.size() && s_[p] >= '0' && s_[p] <= '9') {
    if (p - digits_start >= 12) return std::nullopt;
    v = v * 10 + (s_[p++] - '0');
  }
  if (p == digits_start) return std::nullopt;
  pos_ = p;
  return neg ? -v : v;
}

std::optional<double> PlanScanner::Number() {
  SkipSpace();
  size_t p = pos_;
  auto digit = [&](size_t i) { return i < s_.size() && s_[i] >= '0' && s_[i] <= '9'; };
  if (p < s_.size() && (s_[p] == '-' || s_[p] == '+')) ++p;
  size_t mantissa = p;
  while (digit(p)) ++p;
  if (p < s_.size() && s_[p] == '.') ++p;
  while (digit(p)) ++p;
  if (p == mantissa || (p == mantissa + 1 && s_[mantissa] == '.')) return std::nullopt;
  if (p < s_.size() && (s_[p] == 'e' || s_[p] == 'E')) {
    size_t e = p + 1;
    if (e < s_.size() && (s_[e] == '-' || s_[e] == '+')) ++e;
    if (digit(e)) {
      p = e;
      while (digit(p)) ++p;
    }
  }
  if (p - pos_ > 64) return std::nullopt;
  std::string text(s_.substr(pos_, p - pos_));
  if (text[0] == '+') text.erase(0, 1);
  double v = 0;
  auto res = std::from_chars(text.data(), text.data() + text.size(), v);
  if (res.ec != std::errc() || res.ptr != text.data() + text.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  pos_ = p;
  return v;
}

}  // namespace codesweep
