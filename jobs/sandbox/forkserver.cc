// Fork-server mode: one long-lived sandboxed Python server per concurrent Run() (a slot), which
// forks a locked-down child per snippet. Servers are pooled; one that dies (or is killed by the
// code it ran, or had to be stopped) is discarded and a fresh one started on the next Run(). A
// request with a prelude (ExecRequest::prelude) runs on a warm server that loaded that prelude
// once: warm servers are pooled per prelude, kMaxWarmServers at most idle (least recently used
// dropped first). Tier A only: the server's pid namespace is what makes its kill(-1) sweep safe.
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
#include <list>
#include <memory>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include "jobs/sandbox/forkserver_py.h"
#include "jobs/sandbox/fresh_executor.h"
#include "jobs/sandbox/profile.h"
#include "jobs/sandbox/sandbox.h"

namespace codesweep {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kSockFd = 3, kSeccompFd = 4, kServerFd = 5, kStatusFd = 6;
// Idle warm servers kept (each is an interpreter with one prelude loaded).
constexpr size_t kMaxWarmServers = 8;

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
  // One request on `server`: `code` run in a fork, or (load) loaded into the server itself.
  // server_ok: the server replied and was not stopped (and, for a load, holds the prelude), so
  // it may serve again.
  Result<ExecResult> RunOn(Server& server, std::string_view code, const ExecLimits& limits,
                           bool load, bool& server_ok);
  Result<ExecResult> RunWarm(const ExecRequest& request);
  std::unique_ptr<Server> TakeIdle();
  std::unique_ptr<Server> TakeWarm(const std::string& prelude);
  void PutWarm(const std::string& prelude, std::unique_ptr<Server> server);
  std::shared_ptr<const SandboxProfile> profile_;
  std::vector<std::string> preload_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Server>> idle_;  // guarded by mu_
  // Idle warm servers by prelude, the most recently used first; guarded by mu_.
  std::list<std::pair<std::string, std::unique_ptr<Server>>> warm_idle_;
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

Status SendRequest(int sock, std::string_view code, const ExecLimits& l, bool load, int out_fd,
                   int err_fd) {
  char header[64];
  std::memset(header, ' ', sizeof(header));
  int n = std::snprintf(header, sizeof(header), "%s%zu %lld %lld %lld %d", load ? "warm " : "",
                        code.size(), static_cast<long long>((l.cpu_ms + 999) / 1000),
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
  while (done < code.size()) {
    ssize_t w = send(sock, code.data() + done, code.size() - done, MSG_NOSIGNAL);
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
    stopped_ = true;
    if (first) {
      give_up_at_ = now + std::chrono::milliseconds(300);
      if (send(sock_, "kill\n", 5, MSG_NOSIGNAL) != 5) gave_up_ = true;
    } else if (now >= give_up_at_) {
      gave_up_ = true;
    }
  }
  const std::string& reply() const { return reply_; }
  // Whether the run had to be stopped: a "kill" the server may not have read is then left on
  // its socket, so the server is not used again.
  bool stopped() const { return stopped_; }

 private:
  int sock_;
  std::string reply_, buffer_;
  bool gave_up_ = false, stopped_ = false;
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

// An idle server is usable while its bubblewrap lives and nothing waits on its socket (an idle
// server writes nothing; a readable socket is its end of file, or a stray byte).
bool Usable(const Server& server) {
  pollfd p{server.sock.get(), POLLIN, 0};
  if (poll(&p, 1, 0) != 0) return false;
  siginfo_t info{};  // WNOWAIT: a dead one stays a zombie until ~Server reaps it
  return waitid(P_PID, server.pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
}

// Whether a "warm" request's reply says the prelude ran to its end (its fifth field is 1), so
// the server now holds it.
bool PreludeLoaded(const std::string& reply) {
  long long status = 0, utime = 0, stime = 0, maxrss = 0;
  int loaded = 0;
  return std::sscanf(reply.c_str(), "exit %lld %lld %lld %lld %d", &status, &utime, &stime, &maxrss,
                     &loaded) == 5 &&
         loaded == 1;
}

}  // namespace

Result<ExecResult> ForkServerExecutor::RunOn(Server& server, std::string_view code,
                                             const ExecLimits& limits, bool load, bool& server_ok) {
  server_ok = false;
  CS_ASSIGN_OR_RETURN(Pipe out, MakePipe());
  CS_ASSIGN_OR_RETURN(Pipe err, MakePipe());
  Clock::time_point start = Clock::now();
  CS_RETURN_IF_ERROR(
      SendRequest(server.sock.get(), code, limits, load, out.write.get(), err.write.get()));
  out.write.Reset();
  err.write.Reset();
  RawRun raw;
  ServerControl control(server.sock.get());
  CaptureOutput(std::move(out.read), std::move(err.read), limits, start, control, raw);
  server_ok = ParseReply(control.reply(), raw) && !control.stopped();
  if (load) server_ok = server_ok && PreludeLoaded(control.reply());
  return Classify(std::move(raw), profile_->tier, nullptr, limits);
}

std::unique_ptr<Server> ForkServerExecutor::TakeIdle() {
  std::unique_ptr<Server> dead;  // stopped outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  while (!idle_.empty()) {
    std::unique_ptr<Server> server = std::move(idle_.back());
    idle_.pop_back();
    if (Usable(*server)) return server;
    dead = std::move(server);
  }
  return nullptr;
}

std::unique_ptr<Server> ForkServerExecutor::TakeWarm(const std::string& prelude) {
  std::vector<std::unique_ptr<Server>> dead;  // stopped outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = warm_idle_.begin(); it != warm_idle_.end();) {
    if (it->first != prelude) {
      ++it;
      continue;
    }
    std::unique_ptr<Server> server = std::move(it->second);
    it = warm_idle_.erase(it);
    if (Usable(*server)) return server;
    dead.push_back(std::move(server));
  }
  return nullptr;
}

void ForkServerExecutor::PutWarm(const std::string& prelude, std::unique_ptr<Server> server) {
  std::unique_ptr<Server> dropped;  // stopped outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  warm_idle_.emplace_front(prelude, std::move(server));
  if (warm_idle_.size() > kMaxWarmServers) {
    dropped = std::move(warm_idle_.back().second);
    warm_idle_.pop_back();
  }
}

// A request with a prelude: on an idle warm server of that prelude, else on a server (idle or
// new) that loads it first. A prelude that fails to load or ends the program (sys.exit) is the
// run's result (its status, exit code and output, as the whole program would have given), and
// that server is dropped. The load's time counts against the run's wall_ms.
Result<ExecResult> ForkServerExecutor::RunWarm(const ExecRequest& request) {
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Server> server = TakeWarm(request.prelude);
    bool warm = server != nullptr, pooled = warm;
    ExecLimits limits = request.limits;
    if (!warm) {
      server = TakeIdle();
      pooled = server != nullptr;
      if (!pooled) {
        CS_ASSIGN_OR_RETURN(server, Start());
      }
      bool loaded = false;
      Result<ExecResult> load = RunOn(*server, request.prelude, limits, true, loaded);
      if (!load.ok() && pooled && attempt == 0) continue;  // it died while idle
      if (!load.ok() || !loaded) return load;
      limits.wall_ms = std::max<int64_t>(1, limits.wall_ms - load->wall_ms);
    }
    bool server_ok = false;
    Result<ExecResult> result = RunOn(*server, request.code, limits, false, server_ok);
    if (server_ok) PutWarm(request.prelude, std::move(server));
    // A pooled warm server may have died while idle: retry once on a fresh one.
    if (!result.ok() && warm && attempt == 0) continue;
    return result;
  }
}

Result<ExecResult> ForkServerExecutor::Run(const ExecRequest& request) {
  if (static_cast<int64_t>(request.code.size() + request.prelude.size()) >
      request.limits.max_file_bytes) {
    return Refused(profile_->tier, "source larger than max_file_bytes");
  }
  if (!request.prelude.empty()) return RunWarm(request);
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Server> server = TakeIdle();
    bool fresh = server == nullptr;
    if (fresh) {
      CS_ASSIGN_OR_RETURN(server, Start());
    }
    bool server_ok = false;
    Result<ExecResult> result = RunOn(*server, request.code, request.limits, false, server_ok);
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
