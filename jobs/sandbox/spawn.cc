// fork/exec and the capture loop. The only place a sandboxed process is started.
#include "jobs/sandbox/spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include "jobs/sandbox/cgroup.h"

namespace codesweep {
namespace {

using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }
  void Reset() {
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

Status MakePipe(Fd& read_end, Fd& write_end) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return Status::IoError(std::string("pipe: ") + strerror(errno));
  read_end.fd = p[0];
  write_end.fd = p[1];
  return Status::OK();
}

struct Stream {
  Fd* fd;
  std::string* text;
  bool* truncated;
};

struct Capture {
  const ExecLimits& limits;
  int64_t total = 0;
  // Reads what is available; returns false at EOF.
  bool Drain(Stream& s) {
    char buf[65536];
    ssize_t n = read(s.fd->fd, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n <= 0) return false;
    total += n;
    size_t room = s.text->size() < static_cast<size_t>(limits.keep_output_bytes)
                      ? limits.keep_output_bytes - s.text->size()
                      : 0;
    s.text->append(buf, std::min<size_t>(room, n));
    if (static_cast<size_t>(n) > room) *s.truncated = true;
    return true;
  }
};

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
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  std::string text = ReadAll(fd);
  close(fd);
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

int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

}  // namespace

Result<RawRun> SpawnAndCapture(ChildPlan& plan, const ExecLimits& limits, RunCgroup* cgroup,
                               const SpawnOptions& options) {
  Fd out_r, out_w, err_r, err_w, fail_r, fail_w, st_r, st_w;
  CS_RETURN_IF_ERROR(MakePipe(out_r, out_w));
  CS_RETURN_IF_ERROR(MakePipe(err_r, err_w));
  CS_RETURN_IF_ERROR(MakePipe(fail_r, fail_w));
  // The failure pipe sits above every fd number the child is given.
  Fd fail_high(fcntl(fail_w.fd, F_DUPFD_CLOEXEC, 64));
  fail_w.Reset();
  if (options.status_fd_in_child >= 0) {
    CS_RETURN_IF_ERROR(MakePipe(st_r, st_w));
    plan.fds.emplace_back(st_w.fd, options.status_fd_in_child);
  }
  plan.stdout_fd = out_w.fd;
  plan.stderr_fd = err_w.fd;
  plan.error_fd = fail_high.fd;
  plan.parent_pid = getpid();
  ChildArgv args = MakeChildArgv(plan);

  RawRun run;
  Clock::time_point start = Clock::now();
  pid_t pid = fork();
  if (pid < 0) return Status::Unavailable(std::string("fork: ") + strerror(errno));
  if (pid == 0) RunChild(plan, args);
  out_w.Reset();
  err_w.Reset();
  fail_high.Reset();
  st_w.Reset();
  std::string failure = ReadAll(fail_r.fd);
  if (!failure.empty()) {
    KillTree(pid, cgroup);
    waitpid(pid, nullptr, 0);
    return Status::Internal("sandbox: child setup failed: " + failure);
  }
  Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  Capture capture{limits};
  Stream streams[2] = {{&out_r, &run.stdout_text, &run.stdout_truncated},
                       {&err_r, &run.stderr_text, &run.stderr_truncated}};
  Clock::time_point deadline = start + std::chrono::milliseconds(limits.wall_ms);
  Clock::time_point hard_kill_at = Clock::time_point::max();
  Clock::time_point drain_until = Clock::time_point::max();
  bool exited = false;
  for (;;) {
    bool open_streams = out_r.fd >= 0 || err_r.fd >= 0;
    if (exited && (!open_streams || Clock::now() >= drain_until)) break;
    Clock::time_point wake = std::min({deadline, hard_kill_at, drain_until});
    if (run.timed_out || run.output_killed) wake = std::min(hard_kill_at, drain_until);
    int64_t wait_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(wake - Clock::now()).count();
    if (pidfd.fd < 0 && !exited) wait_ms = std::min<int64_t>(wait_ms, 5);
    pollfd pfds[3];
    int n = 0;
    for (Stream& s : streams) {
      if (s.fd->fd >= 0) pfds[n++] = {s.fd->fd, POLLIN, 0};
    }
    int pid_index = -1;
    if (!exited && pidfd.fd >= 0) {
      pid_index = n;
      pfds[n++] = {pidfd.fd, POLLIN, 0};
    }
    int rc =
        poll(pfds, n, static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(wait_ms, 1000))));
    if (rc < 0 && errno != EINTR) break;
    for (int i = 0; i < n && rc > 0; ++i) {
      if (i == pid_index || pfds[i].revents == 0) continue;
      Stream& s = pfds[i].fd == out_r.fd ? streams[0] : streams[1];
      if (!capture.Drain(s)) s.fd->Reset();
    }
    if (!run.output_killed && capture.total > limits.kill_output_bytes) {
      run.output_killed = true;
      KillTree(pid, cgroup);
      hard_kill_at = Clock::now();
    }
    if (!exited) {
      siginfo_t info{};
      bool done = waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
      if (done) {
        exited = true;
        // Still a zombie: its process group cannot be reused yet.
        kill(-pid, SIGKILL);
        if (cgroup != nullptr) cgroup->KillAll();
        drain_until = Clock::now() + std::chrono::milliseconds(200);
        continue;
      }
    }
    Clock::time_point now = Clock::now();
    if (!run.timed_out && !run.output_killed && now >= deadline) {
      run.timed_out = true;
      if (options.soft_terminate) {
        KillChildGroups(pid);
        kill(pid, SIGTERM);
        hard_kill_at = now + std::chrono::milliseconds(300);
      } else {
        KillTree(pid, cgroup);
        hard_kill_at = now + std::chrono::milliseconds(100);
      }
    } else if (now >= hard_kill_at && !exited) {
      KillTree(pid, cgroup);
      hard_kill_at = now + std::chrono::milliseconds(100);
    }
  }
  if (!exited) KillTree(pid, cgroup);
  while (wait4(pid, &run.wait_status, 0, &run.usage) < 0 && errno == EINTR) {
  }
  run.wall_ms = MsSince(start);
  if (st_r.fd >= 0) {
    fcntl(st_r.fd, F_SETFL, O_NONBLOCK);
    run.status_text = ReadAll(st_r.fd);
  }
  return run;
}

}  // namespace codesweep
