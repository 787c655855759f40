// Reading the TOML files a sweep file includes (task files, method template files): size and
// nesting bounded before toml++ sees the text (it recurses per level), parse errors as
// "path:line:column: what". Internal to cs_sweep (the toml++ users); any thread.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <string_view>

#include "base/status.h"

namespace codesweep {

inline constexpr size_t kMaxIncludedFileBytes = 1 << 20;
inline constexpr int kMaxIncludedFileDepth = 32;

// The deepest nesting of [ and { outside strings and comments.
int TomlNestingDepth(std::string_view text);

// Reads and parses the file at `path`; `what` names the kind of file in messages ("task file").
Result<toml::table> ReadIncludedToml(const std::string& path, std::string_view what);

// The folder of a path ("" for a bare file name): what relative paths in the file resolve
// against.
std::string DirOf(const std::string& path);

// `file` resolved against `base_dir` when relative, normalized.
std::string ResolveIncluded(const std::string& base_dir, const std::string& file);

}  // namespace codesweep
