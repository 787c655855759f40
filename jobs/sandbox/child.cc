// Between fork and exec: raw syscalls only, no allocation, every failure reported on error_fd.
#include "jobs/sandbox/child.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>

#include "jobs/sandbox/scratch.h"
#include "jobs/sandbox/seccomp_policy.h"

namespace codesweep {
namespace {

// Writes "stage errno" on the error pipe and exits. Stages are short literals.
[[noreturn]] void Fail(const ChildPlan& plan, const char* stage, int err) {
  char buf[64];
  int n = 0;
  for (const char* p = stage; *p && n < 40; ++p) buf[n++] = *p;
  buf[n++] = ' ';
  char digits[12];
  int d = 0;
  unsigned v = static_cast<unsigned>(err);
  do {
    digits[d++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v && d < 11);
  while (d) buf[n++] = digits[--d];
  if (plan.error_fd >= 0) (void)!write(plan.error_fd, buf, n);
  _exit(127);
}

void ResetSignals() {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int s = 1; s < NSIG; ++s) signal(s, SIG_DFL);
}

void SetLimit(const ChildPlan& plan, int resource, int64_t value, const char* stage) {
  if (value <= 0) return;
  rlimit r{static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
  if (resource == RLIMIT_CPU) r.rlim_max = r.rlim_cur + 1;  // SIGXCPU first, then SIGKILL
  if (setrlimit(resource, &r) != 0) Fail(plan, stage, errno);
}

void SetupFds(const ChildPlan& plan) {
  int null_fd = open("/dev/null", O_RDONLY);
  if (null_fd < 0) Fail(plan, "open-devnull", errno);
  int high[8];
  size_t n = plan.fds.size() < 8 ? plan.fds.size() : 8;
  for (size_t i = 0; i < n; ++i) high[i] = fcntl(plan.fds[i].first, F_DUPFD_CLOEXEC, 100);
  if (dup2(null_fd, 0) < 0 || dup2(plan.stdout_fd, 1) < 0 || dup2(plan.stderr_fd, 2) < 0) {
    Fail(plan, "dup2", errno);
  }
  int keep_below = 3;
  for (size_t i = 0; i < n; ++i) {
    if (high[i] < 0 || dup2(high[i], plan.fds[i].second) < 0) Fail(plan, "dup2-fd", errno);
    if (plan.fds[i].second >= keep_below) keep_below = plan.fds[i].second + 1;
  }
  // Close everything else except the error pipe (CLOEXEC; it goes at exec). The parent puts the
  // error pipe above every child fd number.
  unsigned low = static_cast<unsigned>(keep_below), err = static_cast<unsigned>(plan.error_fd);
  if (syscall(SYS_close_range, low, err - 1, 0u) != 0 ||
      syscall(SYS_close_range, err + 1, ~0u, 0u) != 0) {
    for (int fd = keep_below; fd < 4096; ++fd) {
      if (fd != plan.error_fd) close(fd);
    }
  }
}

void JoinCgroups(const ChildPlan& plan) {
  for (const std::string& f : plan.cgroup_procs) {
    int fd = open(f.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0", 1) != 1) Fail(plan, "cgroup-join", errno);
    close(fd);
  }
}

[[noreturn]] void ExecInterpreter(const ChildPlan& plan, const ChildArgv& args) {
  execve(plan.exe.c_str(), args.argv.data(), args.env.data());
  Fail(plan, "execve", errno);
}

// Core dumps off; CPU, address space, file size, open files and processes as the plan says.
void ApplyLimits(const ChildPlan& plan) {
  rlimit zero{0, 0};
  setrlimit(RLIMIT_CORE, &zero);
  SetLimit(plan, RLIMIT_CPU, plan.limits.cpu_seconds, "rlimit-cpu");
  SetLimit(plan, RLIMIT_AS, plan.limits.address_space, "rlimit-as");
  SetLimit(plan, RLIMIT_FSIZE, plan.limits.file_bytes, "rlimit-fsize");
  SetLimit(plan, RLIMIT_NOFILE, plan.limits.open_files, "rlimit-nofile");
  SetLimit(plan, RLIMIT_NPROC, plan.limits.processes, "rlimit-nproc");
}

void DropPrivileges(const ChildPlan& plan) {
  if (setgroups(0, nullptr) != 0) Fail(plan, "setgroups", errno);
  if (setresgid(plan.run_gid, plan.run_gid, plan.run_gid) != 0) Fail(plan, "setgid", errno);
  if (setresuid(plan.run_uid, plan.run_uid, plan.run_uid) != 0) Fail(plan, "setuid", errno);
}

// An empty capability bounding set: whatever uid the interpreter ends up with, its exec grants no
// capabilities (root in a one-uid user namespace would otherwise get them all). Needs
// CAP_SETPCAP; without it there is nothing to drop.
void DropCapabilityBounds() {
  for (int cap = 0; cap <= 63; ++cap) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
}

// Dies with SIGKILL when `parent` does. Set after every uid change: a credential change clears
// it. Exits at once if the parent is already gone.
void DieWithParent(const ChildPlan& plan, pid_t parent) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) Fail(plan, "pdeathsig", errno);
  if (getppid() != parent) _exit(127);
}

[[noreturn]] void RunInterpreter(const ChildPlan& plan, const ChildArgv& args, pid_t monitor) {
  setpgid(0, 0);
  ResetSignals();
  DropCapabilityBounds();
  if (plan.drop_privileges) DropPrivileges(plan);
  DieWithParent(plan, monitor);
  ApplyLimits(plan);  // as the run's uid: RLIMIT_NPROC counts that uid's processes
  if (plan.landlock != nullptr) {
    int err = ApplyLandlock(*plan.landlock);
    if (err != 0) Fail(plan, "landlock", err);
  }
  if (plan.seccomp_bpf != nullptr) {
    int err = InstallSeccompBpf(*plan.seccomp_bpf);
    if (err != 0) Fail(plan, "seccomp", err);
  }
  ExecInterpreter(plan, args);
}

// SIGKILLs every current child of this process, read from its own children list (cheap: no
// scan of /proc). Allocation-free.
void KillChildren() {
  char path[64] = "/proc/self/task/";
  int n = 16;
  char digits[12];
  int d = 0;
  for (unsigned v = static_cast<unsigned>(getpid()); d == 0 || v; v /= 10) {
    digits[d++] = static_cast<char>('0' + v % 10);
  }
  while (d) path[n++] = digits[--d];
  for (const char* p = "/children"; *p;) path[n++] = *p++;
  path[n] = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[4096];
  ssize_t len;
  pid_t pid = 0;
  while ((len = read(fd, buf, sizeof(buf))) > 0) {
    for (ssize_t i = 0; i < len; ++i) {
      if (buf[i] >= '0' && buf[i] <= '9') {
        pid = pid * 10 + (buf[i] - '0');
      } else if (pid > 0) {
        kill(pid, SIGKILL);
        pid = 0;
      }
    }
  }
  if (pid > 0) kill(pid, SIGKILL);
  close(fd);
}

// Kills every remaining child of this (subreaper) process until none is left: orphans of the
// run are reparented to it.
void Sweep(pid_t interpreter) {
  kill(-interpreter, SIGKILL);
  for (;;) {
    KillChildren();
    pid_t reaped;
    bool any = false;
    while ((reaped = waitpid(-1, nullptr, WNOHANG)) > 0) any = true;
    if (reaped < 0 && errno == ECHILD) return;
    if (!any) {
      timespec ts{0, 1'000'000};
      nanosleep(&ts, nullptr);
    }
  }
}

// The run directory's shared flock, held (CLOEXEC) while the monitor lives: a later worker's
// reaper removes only run directories nobody holds.
void HoldRunDir(const ChildPlan& plan) {
  if (plan.run_dir.empty()) return;
  int fd = open(plan.run_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) flock(fd, LOCK_SH);
}

constexpr int kStopped = -1;     // SIGTERM: the parent stopped the run (deadline)
constexpr int kParentDied = -2;  // SIGHUP (PDEATHSIG): the thread that forked us is gone

// The signals the monitor waits for, blocked from its start.
sigset_t MonitorSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

// Waits for the interpreter's end (its wait status), kStopped or kParentDied. PDEATHSIG has a
// signal of its own: when the forking thread dies first, the monitor is reparented to another
// thread of the dying worker, so getppid() cannot tell the two apart.
int WaitInterpreter(pid_t interpreter, const sigset_t& waitset) {
  int status = 0;
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&waitset, &info);
    if (sig == SIGTERM) return kStopped;
    if (sig == SIGHUP) return kParentDied;
    if (sig != SIGCHLD) continue;
    if (waitpid(interpreter, &status, WNOHANG) == interpreter) return status;
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }
}

}  // namespace

// Unblocks `term` alone: a SIGTERM the parent sent after the interpreter had ended (its deadline
// and the interpreter's SIGKILL crossing) is still pending in the monitor's blocked set, and
// unblocking everything would deliver it first, reporting 15 instead of the interpreter's status.
[[noreturn]] void ExitLike(int status) {
  if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
  int term = WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL;
  signal(term, SIG_DFL);
  sigset_t only;
  sigemptyset(&only);
  sigaddset(&only, term);
  sigprocmask(SIG_UNBLOCK, &only, nullptr);
  kill(getpid(), term);
  kill(getpid(), SIGKILL);  // a signal whose default is not to terminate
  _exit(128 + term);
}

namespace {

[[noreturn]] void RunMonitor(const ChildPlan& plan, const ChildArgv& args) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) Fail(plan, "subreaper", errno);
  HoldRunDir(plan);
  pid_t self = getpid();
  pid_t interpreter = fork();
  if (interpreter < 0) Fail(plan, "fork", errno);
  if (interpreter == 0) RunInterpreter(plan, args, self);
  close(plan.error_fd);
  int null_fd = open("/dev/null", O_WRONLY);
  dup2(null_fd, 1);
  dup2(null_fd, 2);
  int status = WaitInterpreter(interpreter, MonitorSignals());
  Sweep(interpreter);
  if (status == kParentDied || getppid() != plan.parent_pid) {
    // The parent died mid-run: nobody else will remove the run directory.
    if (!plan.run_dir.empty()) (void)RemoveTree(plan.run_dir);
    _exit(137);
  }
  // SIGTERM: the parent stopped the run at its deadline, and the sweep SIGKILLed the
  // interpreter.
  ExitLike(status == kStopped ? SIGKILL : status);
}

}  // namespace

ChildArgv MakeChildArgv(ChildPlan& plan) {
  ChildArgv out;
  for (std::string& a : plan.argv) out.argv.push_back(a.data());
  out.argv.push_back(nullptr);
  for (std::string& e : plan.env) out.env.push_back(e.data());
  out.env.push_back(nullptr);
  return out;
}

void RunChild(const ChildPlan& plan, const ChildArgv& args) {
  ResetSignals();
  if (plan.monitor) {
    // Until the monitor waits for them: the parent's stop and the parent's death.
    sigset_t waitset = MonitorSignals();
    sigprocmask(SIG_BLOCK, &waitset, nullptr);
  }
  if (setsid() < 0) Fail(plan, "setsid", errno);
  JoinCgroups(plan);
  SetupFds(plan);
  if (plan.monitor) {
    // A monitor outlives its parent just long enough to sweep and clean up.
    if (prctl(PR_SET_PDEATHSIG, SIGHUP) != 0) Fail(plan, "pdeathsig", errno);
    if (getppid() != plan.parent_pid) {
      if (!plan.run_dir.empty()) (void)RemoveTree(plan.run_dir);
      _exit(127);
    }
  } else {
    // The limits go on the interpreter only in monitor mode (RunInterpreter): the monitor is our
    // code and must keep working (allocating, forking, reading /proc) whatever the run does.
    DropCapabilityBounds();
    if (plan.drop_privileges) DropPrivileges(plan);
    ApplyLimits(plan);
    DieWithParent(plan, plan.parent_pid);
  }
  if (!plan.cwd.empty() && chdir(plan.cwd.c_str()) != 0) Fail(plan, "chdir", errno);
  if (plan.monitor) RunMonitor(plan, args);
  ExecInterpreter(plan, args);
}

}  // namespace codesweep
