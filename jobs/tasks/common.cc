#include "jobs/tasks/common.h"

namespace codesweep {

std::optional<std::string> LastTripleAngle(std::string_view reply) {
  size_t open = reply.rfind("<<<");
  while (open != std::string_view::npos) {
    size_t close = reply.find(">>>", open + 3);
    if (close != std::string_view::npos) {
      // Skip extra '<' so "<<<<x>>>" reads as "x" only when the run of '<' is longer than 3.
      size_t start = open + 3;
      return std::string(reply.substr(start, close - start));
    }
    if (open == 0) break;
    open = reply.rfind("<<<", open - 1);
  }
  return std::nullopt;
}

std::string Truncate(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return std::string(s);
  std::string out(s.substr(0, max_bytes));
  out += "...";
  return out;
}

std::string_view TrimAscii(std::string_view s) {
  auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace codesweep
