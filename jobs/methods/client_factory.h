// The default LlmClientFactory: "sim" models get the simulated model (jobs/llm/sim) bound to the
// job's task instance; every other provider gets MakeProviderClient. The factory is a value that
// may be copied and called from many slot threads at once.
#pragma once

#include <string>

#include "jobs/llm/providers.h"
#include "jobs/llm/sim/sim.h"
#include "jobs/methods/method.h"

namespace codesweep {

// sim_defaults: the sim knobs used where a model's options do not set them.
// Provider models whose options contain "cell_context_header": true get the request header
// X-Codesweep-Cell: {"task":..,"complexity":..,"sample":..,"seed":..,"method":..}, which lets
// fakellm answer as the sim would for that cell.
LlmClientFactory MakeDefaultClientFactory(ProviderEnv env, SimOptions sim_defaults = {});

// The X-Codesweep-Cell header value for a job (compact JSON).
std::string CellContextHeader(const JobSpec& spec);

// sim options = sim_defaults overlaid with the model's options_json (unknown keys are errors).
Result<SimOptions> ResolveSimOptions(const std::string& options_json, const SimOptions& defaults);

}  // namespace codesweep
