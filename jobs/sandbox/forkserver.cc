// Fork-server mode: one long-lived sandboxed Python server per concurrent Run() (a slot), which
// forks a locked-down child per snippet. Servers are pooled; one that dies (or is killed by the
// code it ran) is discarded and a fresh one started on the next Run(). Tier A only: the server's
// pid namespace is what makes its kill(-1) sweep safe.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "jobs/sandbox/forkserver_py.h"
#include "jobs/sandbox/fresh_executor.h"
#include "jobs/sandbox/profile.h"
#include "jobs/sandbox/sandbox.h"

namespace codesweep {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kSockFd = 3, kSeccompFd = 4, kServerFd = 5, kStatusFd = 6;

struct Server {
  pid_t pid = -1;
  UniqueFd sock;
  std::unique_ptr<RunCgroup> cgroup;
  ~Server() {
    sock.Reset();
    if (pid > 0) {
      kill(-pid, SIGKILL);
      if (cgroup) cgroup->KillAll();
      waitpid(pid, nullptr, 0);
    }
  }
};

class ForkServerExecutor : public Executor {
 public:
  ForkServerExecutor(std::shared_ptr<const SandboxProfile> profile,
                     std::vector<std::string> preload)
      : profile_(std::move(profile)), preload_(std::move(preload)) {}
  Result<ExecResult> Run(const ExecRequest& request) override;

 private:
  Result<std::unique_ptr<Server>> Start();
  ChildPlan ServerPlan(const Server& server, int sock, int bpf, int script, int devnull) const;
  Result<ExecResult> RunOn(Server& server, const ExecRequest& request, bool& server_ok);
  std::unique_ptr<Server> TakeIdle();
  std::shared_ptr<const SandboxProfile> profile_;
  std::vector<std::string> preload_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Server>> idle_;  // guarded by mu_
};

// The server's bubblewrap command: the slot's default limits, no CPU or address-space limit (each
// child sets its own), output to /dev/null.
ChildPlan ForkServerExecutor::ServerPlan(const Server& server, int sock, int bpf, int script,
                                         int devnull) const {
  ExecLimits slot;
  ChildPlan plan;
  plan.fds = {{sock, kSockFd}, {bpf, kSeccompFd}, {script, kServerFd}, {devnull, kStatusFd}};
  std::vector<std::string> inner = {profile_->python, "-I", "/code/server.py"};
  inner.insert(inner.end(), preload_.begin(), preload_.end());
  plan.exe = profile_->bwrap;
  plan.argv =
      BwrapArgs(*profile_, slot, {{kServerFd, "/code/server.py"}}, kSeccompFd, kStatusFd, inner);
  plan.env = SandboxEnv("/scratch", "/tmp", profile_->label);
  RunAsNobody(*profile_, plan);  // bubblewrap maps the sandbox's 65534 to the caller's uid
  plan.limits = LimitsFor(slot, server.cgroup != nullptr);
  plan.limits.cpu_seconds = 0;
  plan.limits.address_space = 0;
  if (server.cgroup) plan.cgroup_procs = server.cgroup->procs_files();
  plan.stdout_fd = devnull;
  plan.stderr_fd = devnull;
  plan.parent_pid = getpid();
  return plan;
}

Result<std::unique_ptr<Server>> ForkServerExecutor::Start() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return Status::IoError(std::string("socketpair: ") + strerror(errno));
  }
  auto server = std::make_unique<Server>();
  server->sock.Reset(sv[0]);
  UniqueFd child_sock(sv[1]);
  ExecLimits slot;  // the slot's cgroup uses the default limits plus room for preloads
  if (profile_->cgroups) {
    auto cg = profile_->cgroups->Create(slot.memory_bytes + (512LL << 20), slot.max_processes + 2);
    if (cg.ok()) server->cgroup = std::move(cg).value();
  }
  CS_ASSIGN_OR_RETURN(UniqueFd script, MemFdWith("cs-forkserver", kForkServerPy));
  CS_ASSIGN_OR_RETURN(UniqueFd bpf, MemFdWith("cs-seccomp", profile_->seccomp_bpf));
  UniqueFd devnull(open("/dev/null", O_WRONLY | O_CLOEXEC));
  UniqueFd error_fd(fcntl(devnull.get(), F_DUPFD_CLOEXEC, 64));
  ChildPlan plan = ServerPlan(*server, child_sock.get(), bpf.get(), script.get(), devnull.get());
  plan.error_fd = error_fd.get();
  ChildArgv args = MakeChildArgv(plan);
  pid_t pid = fork();
  if (pid == 0) RunChild(plan, args);
  if (pid < 0) return Status::Unavailable("forkserver: cannot start the server");
  server->pid = pid;
  return server;
}

// Reads the server's reply line; "" when the server is gone.
std::string ReadLine(int fd, std::string& buffer) {
  char buf[256];
  for (;;) {
    size_t nl = buffer.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      return line;
    }
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return "";
    buffer.append(buf, n);
  }
}

Status SendRequest(int sock, const ExecRequest& request, int out_fd, int err_fd) {
  const ExecLimits& l = request.limits;
  char header[64];
  std::memset(header, ' ', sizeof(header));
  int n = std::snprintf(header, sizeof(header), "%zu %lld %lld %lld %d", request.code.size(),
                        static_cast<long long>((l.cpu_ms + 999) / 1000),
                        static_cast<long long>(l.memory_bytes),
                        static_cast<long long>(l.max_file_bytes), 256);
  header[n] = ' ';
  msghdr msg{};
  iovec iov{header, sizeof(header)};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))];
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(2 * sizeof(int));
  int fds[2] = {out_fd, err_fd};
  std::memcpy(CMSG_DATA(cm), fds, sizeof(fds));
  if (sendmsg(sock, &msg, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof(header))) {
    return Status::Unavailable("forkserver: server gone");
  }
  size_t done = 0;
  while (done < request.code.size()) {
    ssize_t w = send(sock, request.code.data() + done, request.code.size() - done, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return Status::Unavailable("forkserver: server gone");
    done += w;
  }
  return Status::OK();
}

// A run on the fork server: over when the server replies (or is gone); stopped by asking the
// server to kill the child, and given up 300 ms later (the server is then discarded).
class ServerControl : public RunControl {
 public:
  explicit ServerControl(int sock) : sock_(sock) {}
  int wake_fd() const override { return sock_; }
  bool Ended() override {
    if (gave_up_) return true;
    pollfd p{sock_, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) return false;
    reply_ = ReadLine(sock_, buffer_);  // "" when the server is gone
    return true;
  }
  void Stop(StopReason, bool first) override {
    Clock::time_point now = Clock::now();
    if (first) {
      give_up_at_ = now + std::chrono::milliseconds(300);
      if (send(sock_, "kill\n", 5, MSG_NOSIGNAL) != 5) gave_up_ = true;
    } else if (now >= give_up_at_) {
      gave_up_ = true;
    }
  }
  const std::string& reply() const { return reply_; }

 private:
  int sock_;
  std::string reply_, buffer_;
  bool gave_up_ = false;
  Clock::time_point give_up_at_;
};

// The server's reply ("exit STATUS UTIME_MS STIME_MS MAXRSS_KB") into raw; false when there is
// none: the code took its server down with it (or the server hung), reported as SIGKILL.
bool ParseReply(const std::string& reply, RawRun& raw) {
  long long status = 0, utime = 0, stime = 0, maxrss = 0;
  if (std::sscanf(reply.c_str(), "exit %lld %lld %lld %lld", &status, &utime, &stime, &maxrss) !=
      4) {
    raw.wait_status = SIGKILL;
    return false;
  }
  raw.wait_status = static_cast<int>(status);
  raw.usage.ru_utime = {static_cast<time_t>(utime / 1000),
                        static_cast<suseconds_t>(utime % 1000 * 1000)};
  raw.usage.ru_stime = {static_cast<time_t>(stime / 1000),
                        static_cast<suseconds_t>(stime % 1000 * 1000)};
  raw.usage.ru_maxrss = maxrss;
  return true;
}

}  // namespace

Result<ExecResult> ForkServerExecutor::RunOn(Server& server, const ExecRequest& request,
                                             bool& server_ok) {
  server_ok = false;
  CS_ASSIGN_OR_RETURN(Pipe out, MakePipe());
  CS_ASSIGN_OR_RETURN(Pipe err, MakePipe());
  Clock::time_point start = Clock::now();
  CS_RETURN_IF_ERROR(SendRequest(server.sock.get(), request, out.write.get(), err.write.get()));
  out.write.Reset();
  err.write.Reset();
  RawRun raw;
  ServerControl control(server.sock.get());
  CaptureOutput(std::move(out.read), std::move(err.read), request.limits, start, control, raw);
  server_ok = ParseReply(control.reply(), raw);
  return Classify(std::move(raw), profile_->tier, nullptr, request.limits);
}

std::unique_ptr<Server> ForkServerExecutor::TakeIdle() {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.empty()) return nullptr;
  std::unique_ptr<Server> server = std::move(idle_.back());
  idle_.pop_back();
  return server;
}

Result<ExecResult> ForkServerExecutor::Run(const ExecRequest& request) {
  if (static_cast<int64_t>(request.code.size()) > request.limits.max_file_bytes) {
    return Refused(profile_->tier, "source larger than max_file_bytes");
  }
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Server> server = TakeIdle();
    bool fresh = server == nullptr;
    if (fresh) {
      CS_ASSIGN_OR_RETURN(server, Start());
    }
    bool server_ok = false;
    Result<ExecResult> result = RunOn(*server, request, server_ok);
    if (server_ok) {
      std::lock_guard<std::mutex> lock(mu_);
      idle_.push_back(std::move(server));
    }
    // A pooled server may have died while idle: retry once on a fresh one.
    if (!result.ok() && !fresh && attempt == 0) continue;
    return result;
  }
}

Result<std::unique_ptr<Executor>> MakeForkServer(std::shared_ptr<const SandboxProfile> profile,
                                                 const SandboxOptions& options, Logger& logger) {
  if (profile->tier != "A") {
    return Status::FailedPrecondition("sandbox: forkserver mode needs tier A (got tier " +
                                      profile->tier + "); use mode fresh");
  }
  auto executor = std::make_unique<ForkServerExecutor>(profile, options.preload);
  // Warm one server so the first Run() does not pay for the preload.
  auto first = executor->Run({"pass\n", ExecLimits{}});
  if (!first.ok() || first->status != ExecStatus::kOk) {
    return Status::Unavailable("sandbox: forkserver did not start: " +
                               (first.ok() ? first->stderr_text : first.status().ToString()));
  }
  logger.Info(Str("sandbox forkserver ready preload=", options.preload.size()));
  return std::unique_ptr<Executor>(std::move(executor));
}

}  // namespace codesweep
