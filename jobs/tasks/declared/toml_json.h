// TOML -> JSON, for the readers of sweep files and task files (the only toml++ users).
#pragma once

#include <toml++/toml.h>

#include <nlohmann/json.hpp>

namespace codesweep {

// The JSON form of a TOML value: tables become objects, arrays arrays, dates and times their TOML
// text. Nesting deeper than `max_depth` becomes null (callers bound the depth before parsing;
// this keeps the recursion bounded even if that bound under-counted).
nlohmann::json TomlToJson(const toml::node& n, int max_depth, int depth = 0);

}  // namespace codesweep
