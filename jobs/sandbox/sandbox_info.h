// What the machine supports, for `codesweep exec --info` and for tests that run a suite per
// tier: the probe result of each tier and the packages the profile can import. Each call runs
// short sandboxed probes (tens of milliseconds); any thread.
#pragma once

#include <string>
#include <vector>

#include "jobs/sandbox/sandbox.h"

namespace codesweep {

struct TierProbe {
  std::string tier;  // "A", "B", "C"
  bool usable = false;
  std::string detail;  // why not, or what it runs with (cgroup, Landlock ABI)
};

std::vector<TierProbe> ProbeTiers(const SandboxOptions& options);

// Imports each candidate in the sandbox (tier chosen by options) and returns the importable ones
// with their versions ("numpy 1.24.2").
Result<std::vector<std::string>> ImportablePackages(const SandboxOptions& options,
                                                    const std::vector<std::string>& candidates);

}  // namespace codesweep
