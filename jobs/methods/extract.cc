#include "jobs/methods/extract.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace codesweep {

namespace {

std::string LowerTrim(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\r') continue;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool IsPythonInfo(std::string_view info) {
  std::string i = LowerTrim(info);
  return i.empty() || i == "python" || i == "python3" || i == "py";
}

// Position of the next line that starts with ``` at or after `from`, or npos.
size_t FindClosingFence(std::string_view s, size_t from) {
  size_t pos = from;
  while (pos < s.size()) {
    if (s.compare(pos, 3, "```") == 0) return pos;
    size_t nl = s.find('\n', pos);
    if (nl == std::string_view::npos) return std::string_view::npos;
    pos = nl + 1;
  }
  return std::string_view::npos;
}

}  // namespace

std::vector<std::string> ExtractCodeBlocks(std::string_view reply) {
  std::vector<std::string> blocks;
  size_t pos = 0;
  while ((pos = reply.find("```", pos)) != std::string_view::npos) {
    size_t info_end = reply.find('\n', pos + 3);
    if (info_end == std::string_view::npos) break;
    std::string_view info = reply.substr(pos + 3, info_end - pos - 3);
    size_t close = FindClosingFence(reply, info_end + 1);
    if (close == std::string_view::npos) break;
    if (info.find("```") != std::string_view::npos) {  // "``` ```" on one line: not a block
      pos += 3;
      continue;
    }
    if (IsPythonInfo(info)) {
      std::string_view body = reply.substr(info_end + 1, close - info_end - 1);
      if (!body.empty() && body.back() == '\n') body.remove_suffix(1);
      blocks.emplace_back(body);
    }
    pos = close + 3;
  }
  return blocks;
}

bool SaysTerminate(std::string_view reply) {
  size_t pos = 0;
  while ((pos = reply.find("TERMINATE", pos)) != std::string_view::npos) {
    bool left_ok = pos == 0 || !std::isalnum(static_cast<unsigned char>(reply[pos - 1]));
    size_t end = pos + 9;
    bool right_ok = end >= reply.size() || !std::isalnum(static_cast<unsigned char>(reply[end]));
    if (left_ok && right_ok) return true;
    pos = end;
  }
  return false;
}

namespace {

bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

// The first number in lower[i, limit) that is not part of a range like "0-10", or nullopt.
std::optional<double> NumberIn(const std::string& lower, size_t i, size_t limit) {
  while (i < limit && lower[i] != '\n') {
    if (!IsDigit(lower[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < lower.size() && j < i + 8 && (IsDigit(lower[j]) || lower[j] == '.')) ++j;
    if (j + 1 < lower.size() && lower[j] == '-' && IsDigit(lower[j + 1])) {  // a range: skip it
      i = j + 1;
      while (i < lower.size() && IsDigit(lower[i])) ++i;
      continue;
    }
    return std::clamp(std::strtod(lower.substr(i, j - i).c_str(), nullptr), 0.0, 10.0);
  }
  return std::nullopt;
}

// The number after the last mention of `word` (as a word) within a short window,
// e.g. "code score: 8/10".
std::optional<double> ScoreAfter(const std::string& lower, std::string_view word) {
  std::optional<double> found;
  size_t pos = 0;
  while ((pos = lower.find(word, pos)) != std::string::npos) {
    bool word_start = pos == 0 || !std::isalpha(static_cast<unsigned char>(lower[pos - 1]));
    size_t start = pos + word.size();
    if (word_start) {
      if (auto v = NumberIn(lower, start, std::min(lower.size(), start + 24))) found = v;
    }
    pos = start;
  }
  return found;
}

}  // namespace

SelfEstimateScores ParseSelfEstimate(std::string_view reply) {
  std::string lower(reply.substr(0, 1 << 16));
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  SelfEstimateScores s;
  s.code = ScoreAfter(lower, "code");
  s.text = ScoreAfter(lower, "text");
  return s;
}

}  // namespace codesweep
