// UTF-8 helpers for text that comes from models and programs: cut at a character boundary, replace
// invalid sequences with U+FFFD, and make text safe to print on a terminal. Text from a model is
// hostile: every byte string is accepted. Pure functions; any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace codesweep {

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool IsValidUtf8(std::string_view s);
// `s` with every invalid sequence replaced by U+FFFD (one per maximal invalid subpart).
std::string ValidUtf8(std::string_view s);
// The largest n <= max_bytes such that s[0, n) does not end inside a multi-byte character.
size_t Utf8CutPoint(std::string_view s, size_t max_bytes);
// s cut to at most `max_bytes` at a character boundary, with `marker` appended when cut.
std::string TruncateUtf8(std::string_view s, size_t max_bytes, std::string_view marker = "...");
// For a terminal: valid UTF-8 whose C0 controls (but newline and tab), DEL and C1 controls are
// written as visible escapes ("\x1b", "\u009b"), so model output cannot move the cursor, ring the
// bell or change the terminal's state.
std::string EscapeForTerminal(std::string_view s);

}  // namespace codesweep
