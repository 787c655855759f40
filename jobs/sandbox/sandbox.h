// The sandbox: Executor implementations for model-written Python, in isolation tiers chosen by a
// probe at start (A: namespaces via bubblewrap; B: Landlock + seccomp + rlimits; C: seccomp +
// rlimits, only when explicitly allowed) and two modes (fresh interpreter per run, or a
// per-slot fork server with preloaded modules). The returned Executor is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/log.h"
#include "jobs/sandbox/executor.h"

namespace codesweep {

struct SandboxOptions {
  std::string python = "/usr/bin/python3";  // absolute path, run with -I
  std::string tier = "auto";                // "auto", "A", "B", "C"
  bool allow_tier_c = false;                // tier C is refused unless this is set
  std::string mode = "fresh";               // "fresh" or "forkserver"
  std::string backend =
      "auto";  // tier A, fresh mode: "auto" (native, else bwrap), "native", "bwrap"
  std::vector<std::string> preload = {"numpy", "sympy"};  // forkserver mode only
  std::string scratch_root;                               // "" = $TMPDIR or /tmp, passed in by main
  std::string label;  // "" = none; else CODESWEEP_SANDBOX=<label> in the sandbox environment,
                      // so tests and operators can find the processes of a run
};

Result<std::unique_ptr<Executor>> MakeSandbox(const SandboxOptions& options, Logger& logger);

// The accepted range of one ExecLimits field, by its sweep-file key ("wall_ms", ...); nullptr for
// an unknown key. Every limit a user gives is checked against it.
struct ExecLimitRange {
  std::string_view key;
  int64_t min = 0;
  int64_t max = 0;
};
const ExecLimitRange* FindExecLimitRange(std::string_view key);

// Parses a sweep's sandbox overrides ({"wall_ms":..,"memory_bytes":..,...}) on top of defaults.
// Unknown keys and values outside their ExecLimitRange are errors.
Result<ExecLimits> ParseExecLimits(std::string_view json, const ExecLimits& defaults = {});

}  // namespace codesweep
