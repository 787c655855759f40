// The child side of a sandboxed run: everything decided before fork (ChildPlan), and the code that
// runs between fork and exec (RunChild). RunChild only reads the plan, uses raw syscalls and never
// returns. In tiers B, C and plain it becomes a monitor: a subreaper that runs the interpreter as
// its own child, and on the interpreter's exit (or SIGTERM from the parent) kills every process
// left below it before exiting with the interpreter's status. The parent's death reaches the
// monitor as SIGHUP (PDEATHSIG): it then kills everything below it and removes the run directory.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "jobs/sandbox/landlock.h"

namespace codesweep {

struct ChildLimits {
  int64_t cpu_seconds = 0;    // RLIMIT_CPU; 0 = unset
  int64_t address_space = 0;  // RLIMIT_AS; 0 = unset
  int64_t file_bytes = 0;     // RLIMIT_FSIZE
  int64_t open_files = 256;   // RLIMIT_NOFILE
  int64_t processes = 0;      // RLIMIT_NPROC; 0 = unset
};

struct ChildPlan {
  std::string exe;                // absolute path handed to execve
  std::vector<std::string> argv;  // argv[0] first
  std::vector<std::string> env;   // the whole environment, KEY=VALUE
  std::string cwd;                // "" = leave as is
  int stdout_fd = -1;             // write ends of the capture pipes
  int stderr_fd = -1;
  int error_fd = -1;                      // CLOEXEC pipe: setup failures as "stage errno"
  std::vector<std::pair<int, int>> fds;   // (parent fd, child fd) passed through exec
  std::vector<std::string> cgroup_procs;  // cgroup.procs files to join
  ChildLimits limits;
  bool monitor = false;  // fork the interpreter under a subreaper monitor
  // Drop to run_uid/run_gid (root only): the interpreter in monitor mode, else before the exec.
  uid_t run_uid = 0;
  gid_t run_gid = 0;
  bool drop_privileges = false;
  // Monitor mode: the run directory. The monitor holds a shared flock on it while it lives and
  // removes it when the parent dies before the run ends.
  std::string run_dir;
  const std::string* seccomp_bpf = nullptr;  // monitor mode: installed in the interpreter
  const LandlockPlan* landlock = nullptr;    // monitor mode: applied in the interpreter
  pid_t parent_pid = 0;
};

// Pointers into the plan's strings, built before fork so the child allocates nothing for them.
struct ChildArgv {
  std::vector<char*> argv;
  std::vector<char*> env;
};
ChildArgv MakeChildArgv(ChildPlan& plan);

[[noreturn]] void RunChild(const ChildPlan& plan, const ChildArgv& args);

// Ends the calling process the way `status` (a wait status) says, so its parent sees that status;
// signals other than the one re-raised stay blocked. The monitor's last step.
[[noreturn]] void ExitLike(int status);

}  // namespace codesweep
