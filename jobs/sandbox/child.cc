// Between fork and exec: raw syscalls only, no allocation, every failure reported on error_fd.
#include "jobs/sandbox/child.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>

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

[[noreturn]] void RunInterpreter(const ChildPlan& plan, const ChildArgv& args) {
  setpgid(0, 0);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) Fail(plan, "pdeathsig", errno);
  ResetSignals();
  if (plan.drop_privileges) {
    if (setgroups(0, nullptr) != 0) Fail(plan, "setgroups", errno);
    if (setresgid(plan.run_gid, plan.run_gid, plan.run_gid) != 0) Fail(plan, "setgid", errno);
    if (setresuid(plan.run_uid, plan.run_uid, plan.run_uid) != 0) Fail(plan, "setuid", errno);
  }
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

// Kills every remaining child of this (subreaper) process until none is left.
void Sweep(pid_t interpreter) {
  kill(-interpreter, SIGKILL);
  for (;;) {
    DIR* proc = opendir("/proc");
    pid_t self = getpid();
    if (proc != nullptr) {
      while (dirent* e = readdir(proc)) {
        pid_t pid = atoi(e->d_name);
        if (pid <= 0) continue;
        char stat_path[64];
        int n = 0;
        for (const char* p = "/proc/"; *p;) stat_path[n++] = *p++;
        for (const char* p = e->d_name; *p && n < 50;) stat_path[n++] = *p++;
        for (const char* p = "/stat"; *p;) stat_path[n++] = *p++;
        stat_path[n] = 0;
        int fd = open(stat_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        char buf[512];
        ssize_t len = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (len <= 0) continue;
        buf[len] = 0;
        char* close_paren = nullptr;
        for (char* p = buf; *p; ++p) {
          if (*p == ')') close_paren = p;
        }
        if (close_paren == nullptr) continue;
        // ") S PPID ..."
        pid_t ppid = atoi(close_paren + 4);
        if (ppid == self) kill(pid, SIGKILL);
      }
      closedir(proc);
    }
    pid_t reaped;
    int status;
    bool any = false;
    while ((reaped = waitpid(-1, &status, WNOHANG)) > 0) any = true;
    if (reaped < 0 && errno == ECHILD) return;
    if (!any) {
      timespec ts{0, 1'000'000};
      nanosleep(&ts, nullptr);
    }
  }
}

[[noreturn]] void RunMonitor(const ChildPlan& plan, const ChildArgv& args) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) Fail(plan, "subreaper", errno);
  sigset_t waitset;
  sigemptyset(&waitset);
  sigaddset(&waitset, SIGCHLD);
  sigaddset(&waitset, SIGTERM);
  sigprocmask(SIG_BLOCK, &waitset, nullptr);
  pid_t interpreter = fork();
  if (interpreter < 0) Fail(plan, "fork", errno);
  if (interpreter == 0) RunInterpreter(plan, args);
  close(plan.error_fd);
  int null_fd = open("/dev/null", O_WRONLY);
  dup2(null_fd, 1);
  dup2(null_fd, 2);
  int status = 0;
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&waitset, &info);
    if (sig == SIGTERM) {
      status = -1;
      break;
    }
    if (sig == SIGCHLD) {
      pid_t r = waitpid(interpreter, &status, WNOHANG);
      if (r == interpreter) break;
      while (waitpid(-1, nullptr, WNOHANG) > 0) {
      }
    }
  }
  Sweep(interpreter);
  if (status == -1) _exit(137);
  if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
  int term = WTERMSIG(status);
  signal(term, SIG_DFL);
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_UNBLOCK, &all, nullptr);
  kill(getpid(), term);
  _exit(128 + term);
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
  if (setsid() < 0) Fail(plan, "setsid", errno);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) Fail(plan, "pdeathsig", errno);
  if (getppid() != plan.parent_pid) _exit(127);  // the parent is already gone
  JoinCgroups(plan);
  SetupFds(plan);
  // With a monitor the limits go on the interpreter only (RunInterpreter): the monitor is our
  // code and must keep working (allocating, forking, reading /proc) whatever the run does.
  if (!plan.monitor) ApplyLimits(plan);
  if (!plan.cwd.empty() && chdir(plan.cwd.c_str()) != 0) Fail(plan, "chdir", errno);
  if (plan.monitor) RunMonitor(plan, args);
  ExecInterpreter(plan, args);
}

}  // namespace codesweep
