#include "jobs/tasks/common.h"

#include <fstream>
#include <sstream>

#include "base/hash.h"
#include "base/json_depth.h"
#include "base/utf8.h"

namespace codesweep {

std::optional<std::string> LastTripleAngle(std::string_view reply) {
  // The opening is the last "<<<" that has a ">>>" after it; the answer ends at the first ">>>"
  // after that opening. Runs of more than three '<' or '>' are read as the three nearest the
  // content ("<<<<x>>>>" reads "x"). Three linear scans, so megabytes of '<' cost nothing.
  size_t last_close = reply.rfind(">>>");
  if (last_close == std::string_view::npos) return std::nullopt;
  while (last_close > 0 && reply[last_close - 1] == '>') --last_close;
  if (last_close < 3) return std::nullopt;
  size_t open = reply.rfind("<<<", last_close - 3);
  if (open == std::string_view::npos) return std::nullopt;
  size_t start = open + 3;
  size_t close = reply.find(">>>", start);
  return std::string(reply.substr(start, close - start));
}

std::string Truncate(std::string_view s, size_t max_bytes) { return TruncateUtf8(s, max_bytes); }

std::string_view TrimAscii(std::string_view s) {
  auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

uint64_t InstanceSeed(std::string_view task, std::string_view complexity, int64_t sample,
                      uint64_t seed) {
  std::string key;
  key.append(task).append("|").append(complexity).append("|");
  key.append(std::to_string(sample)).append("|").append(std::to_string(seed));
  return Sha256U64(key);
}

size_t PermutedItem(std::string_view task, std::string_view level, int64_t sample, uint64_t seed,
                    size_t n) {
  std::vector<uint32_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
  Rng rng(InstanceSeed(task, level, -1, seed));
  for (size_t i = n; i > 1; --i) {
    size_t j = static_cast<size_t>(rng.Uniform(0, static_cast<int64_t>(i) - 1));
    std::swap(order[i - 1], order[j]);
  }
  const int64_t count = static_cast<int64_t>(n);
  return order[static_cast<size_t>(((sample % count) + count) % count)];
}

std::vector<std::string_view> SplitOn(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t begin = 0;
  while (true) {
    size_t pos = s.find(sep, begin);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(begin));
      return out;
    }
    out.push_back(s.substr(begin, pos - begin));
    begin = pos + 1;
  }
}

std::optional<int64_t> ParseInt(std::string_view s, int64_t lo, int64_t hi) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  bool neg = false;
  size_t i = 0;
  if (s[0] == '-' || s[0] == '+') {
    neg = s[0] == '-';
    i = 1;
  }
  if (i == s.size()) return std::nullopt;
  __int128 v = 0;  // at most 19 digits: cannot overflow 128 bits
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  if (neg) v = -v;
  if (v < lo || v > hi) return std::nullopt;
  return static_cast<int64_t>(v);
}

std::string ToLowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

size_t FindNoCase(std::string_view hay, std::string_view needle, size_t from) {
  if (needle.empty()) return from <= hay.size() ? from : std::string_view::npos;
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
  for (size_t i = from; i + needle.size() <= hay.size(); ++i) {
    size_t k = 0;
    while (k < needle.size() && lower(hay[i + k]) == lower(needle[k])) ++k;
    if (k == needle.size()) return i;
  }
  return std::string_view::npos;
}

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::IoError("cannot read " + path);
  return ss.str();
}

Result<std::vector<nlohmann::json>> ReadJsonLines(const std::string& path) {
  CS_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  std::vector<nlohmann::json> rows;
  size_t line_no = 0;
  for (std::string_view line : SplitOn(text, '\n')) {
    ++line_no;
    if (TrimAscii(line).empty()) continue;
    if (JsonTooDeep(line)) {
      return Status::Corruption(path + ":" + std::to_string(line_no) + ": nested deeper than " +
                                std::to_string(kMaxJsonDepth) + " levels");
    }
    nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (row.is_discarded() || !row.is_object()) {
      return Status::Corruption(path + ":" + std::to_string(line_no) + ": not a JSON object");
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string PyStringLiteral(std::string_view s) {
  // JSON string syntax with ASCII escapes is also a valid Python string literal.
  nlohmann::json j = std::string(s);
  return j.dump(-1, ' ', /*ensure_ascii=*/true, nlohmann::json::error_handler_t::replace);
}

std::string PyJsonLiteral(const nlohmann::json& value) {
  std::string text =
      value.dump(-1, ' ', /*ensure_ascii=*/true, nlohmann::json::error_handler_t::replace);
  return "json.loads(" + PyStringLiteral(text) + ")";
}

}  // namespace codesweep
