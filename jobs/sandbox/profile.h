// SandboxProfile: what MakeSandbox decided once at start (tier, backend, interpreter, bubblewrap
// path, seccomp BPF, Landlock paths, cgroup support) and the per-run plan builders shared by both
// modes. Immutable after construction and shared read-only by every Run(); Run()s on many threads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "jobs/sandbox/cgroup.h"
#include "jobs/sandbox/child.h"
#include "jobs/sandbox/executor.h"
#include "jobs/sandbox/fd.h"
#include "jobs/sandbox/landlock.h"
#include "jobs/sandbox/native.h"
#include "jobs/sandbox/spawn.h"

namespace codesweep {

struct SandboxProfile {
  std::string tier;                        // "A", "B", "C"
  std::string python;                      // absolute interpreter path
  std::string bwrap;                       // tier A only
  std::string scratch_root;                // parent of run directories (tiers B and C)
  std::string seccomp_bpf;                 // the filter for this tier
  LandlockPlan landlock;                   // tier B: system paths (per-run paths are added)
  std::unique_ptr<CgroupSupport> cgroups;  // null when no cgroup can be had
  std::string label;                       // SandboxOptions::label
  // Root whose user namespace maps 65534 (not a one-uid namespace): tier A's bubblewrap and tiers
  // B and C switch to the host's 65534 before running anything of the model's.
  bool run_as_nobody = false;
  // Tier A: "native" (our own namespaces, jobs/sandbox/native.h) or "bwrap" (the fallback).
  std::string backend;
  std::string backend_note;                 // why "native" was not used, if it was not
  std::vector<std::string> sys_path;        // tier A: the interpreter's sys.path with site
  std::shared_ptr<NativeLaunchers> native;  // backend "native": the launcher pool
};

inline constexpr int kNobody = 65534;

// Whether this process may switch to uid/gid 65534: root whose user namespace maps it (a
// single-uid namespace, e.g. `unshare -r`, does not).
bool CanSwitchToNobody();

// Makes `plan` switch to the host's 65534 before it runs model code, where the profile says so.
void RunAsNobody(const SandboxProfile& profile, ChildPlan& plan);

// The /etc files and directories tier A exposes read-only (those that exist).
std::vector<std::string> TierAEtcPaths();

// The environment every sandboxed interpreter gets (nothing from the worker's).
std::vector<std::string> SandboxEnv(const std::string& home, const std::string& tmp,
                                    const std::string& label);

// Rlimits for one run (the address-space backstop depends on whether a cgroup limits memory).
ChildLimits LimitsFor(const ExecLimits& limits, bool have_cgroup);

// Tier A: bubblewrap arguments that run `inner` (interpreter argv) in the sandbox. Files given
// as (fd in child, path in sandbox) pairs appear read-only inside.
std::vector<std::string> BwrapArgs(const SandboxProfile& profile, const ExecLimits& limits,
                                   const std::vector<std::pair<int, std::string>>& files,
                                   int seccomp_fd, int status_fd,
                                   const std::vector<std::string>& inner);

// Maps what happened to a status by the documented precedence (docs/sandbox.md).
ExecResult Classify(RawRun raw, const std::string& tier, const RunCgroup* cgroup,
                    const ExecLimits& limits);

// Fills a memfd with `data` and rewinds it; returns the fd (CLOEXEC) or an error.
Result<UniqueFd> MemFdWith(const char* name, const std::string& data);

}  // namespace codesweep
