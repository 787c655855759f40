// Declared methods of a sweep ([method_templates.NAME], docs/methods.md): the lookups grid
// expansion, validation and the CLI use to treat them like built-in methods. The TOML side is
// method_templates_parse.h. Pure functions; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/sweep/sweep_file.h"
#include "jobs/methods/method_template.h"

namespace codesweep {

// The declared method `name` of the sweep, or nullptr.
const MethodTemplate* FindMethodTemplate(const SweepConfig& config, std::string_view name);
// A method of the sweep, built-in or declared; nullopt when neither.
std::optional<MethodInfo> SweepMethodInfo(const SweepConfig& config, std::string_view name);
// The turn counts the cells of `method` get: a declared method's fixed turns, the sweep's list
// for multi-turn methods, else just 1.
std::vector<int> SweepMethodTurns(const SweepConfig& config, std::string_view method);

}  // namespace codesweep
