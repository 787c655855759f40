// Native tier A: namespaces set up by our own code instead of bubblewrap. A launcher per slot
// (pooled, thread-safe) is cloned once into new user, pid, net, mount, ipc and uts namespaces
// and the slot's cgroup, builds the read-only root and pivots into it; per run it clones an init
// into fresh pid, mount and ipc namespaces that mounts a private /proc, /tmp, /scratch and a
// read-only /code/main.py and runs the interpreter as its child, reporting the interpreter's
// real wait status. The launcher and init run only raw syscalls (they are forks of a threaded
// process and never exec); everything they read is built before the clone.
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "jobs/sandbox/executor.h"

namespace codesweep {

struct SandboxProfile;
class RunCgroup;
struct RawRun;

class NativeLaunchers {
 public:
  explicit NativeLaunchers(const SandboxProfile& profile);
  ~NativeLaunchers();
  NativeLaunchers(const NativeLaunchers&) = delete;
  NativeLaunchers& operator=(const NativeLaunchers&) = delete;

  // Runs the interpreter on `request` in a launcher from the pool (starting one if none is
  // idle). A launcher that fails is discarded; infrastructure failures are a non-OK Status.
  Result<ExecResult> Run(const ExecRequest& request);

  struct Launcher;
  struct Plan;

 private:
  Result<std::unique_ptr<Launcher>> Start();
  Result<pid_t> Clone(Launcher& launcher, int child_sock, int sync_r, bool& joined);
  Status MapIds(const Launcher& launcher, bool joined);
  Result<ExecResult> RunOn(Launcher& launcher, const ExecRequest& request, bool& reusable);
  Result<bool> AccountKilledInit(Launcher& launcher, RawRun& raw);

  const SandboxProfile& profile_;
  std::unique_ptr<Plan> plan_;  // argv, env and mount list, built once
  std::mutex mu_;
  std::vector<std::unique_ptr<Launcher>> idle_;  // guarded by mu_
};

// The interpreter arguments every tier-A run uses: `python -I -S -c PREAMBLE`, where the
// preamble puts `sys_path` (what site would have added, probed once) on sys.path, adds site's
// builtins (exit, quit, help...) and runs /code/main.py as __main__ with script-mode
// tracebacks. status_fd >= 0: the preamble writes the exit code it is about to exit with there
// (bubblewrap reports signals as 128+N; this tells a real exit code apart).
std::vector<std::string> TierAInterpreterArgs(const std::string& python,
                                              const std::vector<std::string>& sys_path,
                                              int status_fd);

}  // namespace codesweep
