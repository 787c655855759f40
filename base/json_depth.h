// JSON nesting depth, measured in one pass over the text without parsing. nlohmann::json parses
// and destroys iteratively, but dump(), copies and comparisons recurse once per level, so a reply
// nested 100,000 deep would overflow the stack. Every JSON text from outside (providers, models,
// datasets) is checked with JsonTooDeep before it is parsed. Pure functions; any thread.
#pragma once

#include <string_view>

namespace codesweep {

// Deeper than any real reply, tool call or dataset row, and far below what recursion survives.
constexpr int kMaxJsonDepth = 128;

// The deepest nesting of '[' and '{' outside strings (0 for a scalar). Malformed text is measured
// the same way; the parser rejects it afterwards.
int JsonDepth(std::string_view text);
bool JsonTooDeep(std::string_view text, int max_depth = kMaxJsonDepth);

}  // namespace codesweep
