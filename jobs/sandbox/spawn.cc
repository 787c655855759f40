// fork/exec of a ChildPlan and the RunControl of a direct child.
#include "jobs/sandbox/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include "jobs/sandbox/cgroup.h"

namespace codesweep {
namespace {

using Clock = std::chrono::steady_clock;

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) out.append(buf, n);
  }
  return out;
}

// SIGKILLs the process group of each child of `pid` (the monitor's interpreter, which leads its
// own group) without waiting for the monitor to be scheduled: a fork bomb can starve it.
void KillChildGroups(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children";
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return;
  std::string text = ReadAll(fd.get());
  for (size_t at = 0; at < text.size();) {
    pid_t child = static_cast<pid_t>(std::strtol(text.c_str() + at, nullptr, 10));
    if (child > 0) kill(-child, SIGKILL);
    size_t space = text.find(' ', at);
    at = space == std::string::npos ? text.size() : space + 1;
  }
}

void KillTree(pid_t pid, RunCgroup* cgroup) {
  KillChildGroups(pid);
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
  if (cgroup != nullptr) cgroup->KillAll();
}

// A direct child (leading its own process group) and its cgroup.
class ChildControl : public RunControl {
 public:
  ChildControl(pid_t pid, RunCgroup* cgroup, bool soft_terminate)
      : pid_(pid),
        pidfd_(static_cast<int>(syscall(SYS_pidfd_open, pid, 0))),
        cgroup_(cgroup),
        soft_(soft_terminate) {}

  int wake_fd() const override { return pidfd_.get(); }

  bool Ended() override {
    siginfo_t info{};
    if (waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid != pid_) {
      return false;
    }
    // Still a zombie, so its process group cannot be reused yet: sweep what is left in it.
    kill(-pid_, SIGKILL);
    if (cgroup_ != nullptr) cgroup_->KillAll();
    return true;
  }

  void Stop(StopReason why, bool first) override {
    Clock::time_point now = Clock::now();
    if (first && soft_ && why == StopReason::kDeadline) {
      KillChildGroups(pid_);
      kill(pid_, SIGTERM);
      hard_kill_at_ = now + std::chrono::milliseconds(300);
    } else if (why == StopReason::kOutput || now >= hard_kill_at_) {
      KillTree(pid_, cgroup_);
    }
  }

 private:
  pid_t pid_;
  UniqueFd pidfd_;
  RunCgroup* cgroup_;
  bool soft_;
  Clock::time_point hard_kill_at_ = Clock::time_point::min();
};

// The child writes "stage errno" on the failure pipe when its set-up fails; EOF means it exec'd
// (or became a monitor).
Status CheckSetup(const UniqueFd& failure_pipe, pid_t pid, RunCgroup* cgroup) {
  std::string failure = ReadAll(failure_pipe.get());
  if (failure.empty()) return Status::OK();
  KillTree(pid, cgroup);
  waitpid(pid, nullptr, 0);
  return Status::Internal("sandbox: child setup failed: " + failure);
}

}  // namespace

Result<RawRun> SpawnAndCapture(ChildPlan& plan, const ExecLimits& limits, RunCgroup* cgroup,
                               const SpawnOptions& options) {
  CS_ASSIGN_OR_RETURN(Pipe out, MakePipe());
  CS_ASSIGN_OR_RETURN(Pipe err, MakePipe());
  CS_ASSIGN_OR_RETURN(Pipe fail, MakePipe());
  // The failure pipe sits above every fd number the child is given.
  UniqueFd fail_high(fcntl(fail.write.get(), F_DUPFD_CLOEXEC, 64));
  fail.write.Reset();
  Pipe status;
  if (options.status_fd_in_child >= 0) {
    CS_ASSIGN_OR_RETURN(status, MakePipe());
    plan.fds.emplace_back(status.write.get(), options.status_fd_in_child);
  }
  plan.stdout_fd = out.write.get();
  plan.stderr_fd = err.write.get();
  plan.error_fd = fail_high.get();
  plan.parent_pid = getpid();
  ChildArgv args = MakeChildArgv(plan);

  Clock::time_point start = Clock::now();
  pid_t pid = fork();
  if (pid < 0) return Status::Unavailable(std::string("fork: ") + strerror(errno));
  if (pid == 0) RunChild(plan, args);
  out.write.Reset();
  err.write.Reset();
  fail_high.Reset();
  status.write.Reset();
  CS_RETURN_IF_ERROR(CheckSetup(fail.read, pid, cgroup));

  RawRun run;
  ChildControl control(pid, cgroup, options.soft_terminate);
  CaptureOutput(std::move(out.read), std::move(err.read), limits, start, control, run);
  while (wait4(pid, &run.wait_status, 0, &run.usage) < 0 && errno == EINTR) {
  }
  if (status.read.valid()) {
    fcntl(status.read.get(), F_SETFL, O_NONBLOCK);
    run.status_text = ReadAll(status.read.get());
  }
  return run;
}

}  // namespace codesweep
