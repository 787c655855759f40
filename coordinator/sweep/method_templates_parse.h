// Parsing the [method_templates.NAME] tables of a sweep file into MethodTemplate values; every
// error names file:line and the dotted key. Internal to cs_sweep (the toml++ users).
#pragma once

#include <toml++/toml.h>

#include <string>
#include <vector>

#include "jobs/methods/method_template.h"

namespace codesweep {

// Parses the `method_templates` table of the sweep file at `path`.
Result<std::vector<MethodTemplate>> ParseMethodTemplates(const toml::node& node,
                                                         const std::string& path);

}  // namespace codesweep
