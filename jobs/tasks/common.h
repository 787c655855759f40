// Helpers shared by the task checkers: answer extraction and bounded parsing. Pure functions,
// safe on any bytes (invalid UTF-8, NULs, megabytes of input).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace codesweep {

// The text inside the LAST <<<...>>> of `reply` (may span lines), or nullopt if there is none.
std::optional<std::string> LastTripleAngle(std::string_view reply);
// `s` cut to at most `max_bytes` with "..." appended when cut (for Verdict::parsed and reasons).
std::string Truncate(std::string_view s, size_t max_bytes = 200);
// Trims ASCII whitespace at both ends.
std::string_view TrimAscii(std::string_view s);

}  // namespace codesweep
