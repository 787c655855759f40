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
  int sock = -1;
  std::unique_ptr<RunCgroup> cgroup;
  ~Server() {
    if (sock >= 0) close(sock);
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
  Result<ExecResult> RunOn(Server& server, const ExecRequest& request, bool& server_ok);
  std::shared_ptr<const SandboxProfile> profile_;
  std::vector<std::string> preload_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Server>> idle_;  // guarded by mu_
};

Result<std::unique_ptr<Server>> ForkServerExecutor::Start() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return Status::IoError(std::string("socketpair: ") + strerror(errno));
  }
  auto server = std::make_unique<Server>();
  server->sock = sv[0];
  ExecLimits slot;  // the slot's cgroup uses the default limits plus room for preloads
  if (profile_->cgroups) {
    auto cg = profile_->cgroups->Create(slot.memory_bytes + (512LL << 20), slot.max_processes + 2);
    if (cg.ok()) server->cgroup = std::move(cg).value();
  }
  auto script = MemFdWith("cs-forkserver", kForkServerPy);
  auto bpf = MemFdWith("cs-seccomp", profile_->seccomp_bpf);
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  ChildPlan plan;
  if (script.ok() && bpf.ok()) {
    plan.fds = {{sv[1], kSockFd}, {bpf->get(), kSeccompFd}, {script->get(), kServerFd}, {devnull, kStatusFd}};
  }
  std::vector<std::string> inner = {profile_->python, "-I", "/code/server.py"};
  inner.insert(inner.end(), preload_.begin(), preload_.end());
  plan.exe = profile_->bwrap;
  plan.argv =
      BwrapArgs(*profile_, slot, {{kServerFd, "/code/server.py"}}, kSeccompFd, kStatusFd, inner);
  plan.env = SandboxEnv("/scratch", "/tmp", profile_->label);
  plan.limits = LimitsFor(slot, server->cgroup != nullptr);
  plan.limits.cpu_seconds = 0;    // the server lives long; each child sets its own CPU limit
  plan.limits.address_space = 0;  // likewise
  if (server->cgroup) plan.cgroup_procs = server->cgroup->procs_files();
  plan.stdout_fd = devnull;
  plan.stderr_fd = devnull;
  plan.error_fd = fcntl(devnull, F_DUPFD_CLOEXEC, 64);
  plan.parent_pid = getpid();
  ChildArgv args = MakeChildArgv(plan);
  pid_t pid = script.ok() && bpf.ok() ? fork() : -1;
  if (pid == 0) RunChild(plan, args);
  for (int fd : {sv[1], devnull, plan.error_fd}) close(fd);
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

}  // namespace

Result<ExecResult> ForkServerExecutor::RunOn(Server& server, const ExecRequest& request,
                                             bool& server_ok) {
  const ExecLimits& limits = request.limits;
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) return Status::IoError("pipe");
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    return Status::IoError("pipe");
  }
  Clock::time_point start = Clock::now();
  Status sent = SendRequest(server.sock, request, out[1], err[1]);
  close(out[1]);
  close(err[1]);
  RawRun raw;
  int fds[2] = {out[0], err[0]};
  std::string* texts[2] = {&raw.stdout_text, &raw.stderr_text};
  bool* truncs[2] = {&raw.stdout_truncated, &raw.stderr_truncated};
  int64_t total = 0;
  std::string reply, buffer;
  bool killed = false;
  Clock::time_point deadline = start + std::chrono::milliseconds(limits.wall_ms);
  Clock::time_point give_up = Clock::time_point::max();
  server_ok = sent.ok();
  while (server_ok && reply.empty()) {
    pollfd p[3] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}, {server.sock, POLLIN, 0}};
    Clock::time_point wake = killed ? give_up : deadline;
    int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(wake - Clock::now()).count();
    poll(p, 3, static_cast<int>(std::clamp<int64_t>(ms, 0, 1000)));
    for (int i = 0; i < 2; ++i) {
      if (fds[i] < 0 || p[i].revents == 0) continue;
      char buf[65536];
      ssize_t n = read(fds[i], buf, sizeof(buf));
      if (n <= 0) {
        close(fds[i]);
        fds[i] = -1;
        p[i].fd = -1;
        continue;
      }
      total += n;
      size_t room = static_cast<size_t>(limits.keep_output_bytes) -
                    std::min<size_t>(texts[i]->size(), limits.keep_output_bytes);
      texts[i]->append(buf, std::min<size_t>(room, n));
      if (static_cast<size_t>(n) > room) *truncs[i] = true;
    }
    if (p[2].revents != 0) {
      reply = ReadLine(server.sock, buffer);
      if (reply.empty()) server_ok = false;
      continue;
    }
    Clock::time_point now = Clock::now();
    if (!killed && (now >= deadline || total > limits.kill_output_bytes)) {
      (total > limits.kill_output_bytes ? raw.output_killed : raw.timed_out) = true;
      killed = true;
      if (send(server.sock, "kill\n", 5, MSG_NOSIGNAL) != 5) server_ok = false;
      give_up = now + std::chrono::milliseconds(300);
    } else if (killed && now >= give_up) {
      server_ok = false;
    }
  }
  for (int fd : fds) {
    if (fd < 0) continue;
    char buf[65536];
    ssize_t n;
    fcntl(fd, F_SETFL, O_NONBLOCK);
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
    }
    close(fd);
  }
  raw.wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  long long status = 0, utime = 0, stime = 0, maxrss = 0;
  if (!server_ok || std::sscanf(reply.c_str(), "exit %lld %lld %lld %lld", &status, &utime, &stime,
                                &maxrss) != 4) {
    server_ok = false;
    raw.wait_status = SIGKILL;  // the code took its server down with it
  } else {
    raw.wait_status = static_cast<int>(status);
    raw.usage.ru_utime.tv_sec = utime / 1000;
    raw.usage.ru_utime.tv_usec = (utime % 1000) * 1000;
    raw.usage.ru_stime.tv_sec = stime / 1000;
    raw.usage.ru_stime.tv_usec = (stime % 1000) * 1000;
    raw.usage.ru_maxrss = maxrss;
  }
  ExecResult r = Classify(std::move(raw), "B", nullptr, limits);
  r.tier = profile_->tier;
  return r;
}

Result<ExecResult> ForkServerExecutor::Run(const ExecRequest& request) {
  if (static_cast<int64_t>(request.code.size()) > request.limits.max_file_bytes) {
    return Refused(profile_->tier, "source larger than max_file_bytes");
  }
  std::unique_ptr<Server> server;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      server = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!server) {
    CS_ASSIGN_OR_RETURN(server, Start());
  }
  bool server_ok = false;
  Result<ExecResult> result = RunOn(*server, request, server_ok);
  if (server_ok) {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(std::move(server));
  }
  return result;
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
