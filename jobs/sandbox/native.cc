// Native tier A, the worker side: the launcher pool, starting a launcher (namespaces, cgroup, id
// maps), and one run on a launcher's ready init, captured by CaptureOutput.
#include "jobs/sandbox/native.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "jobs/sandbox/native_internal.h"
#include "jobs/sandbox/profile.h"

namespace codesweep {
namespace {

using Clock = std::chrono::steady_clock;

// Waits up to `timeout_ms` for a reply from the launcher; false when it is gone or silent. The
// fds that came with it go to fds[0..max_fds) (those not yet valid); extra ones are closed.
bool ReadReply(int sock, int timeout_ms, Reply& reply, UniqueFd* fds = nullptr, int max_fds = 0) {
  pollfd p{sock, POLLIN, 0};
  int rc;
  do {
    rc = poll(&p, 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  if (rc <= 0) return false;
  int nfds = 0;
  int got[4];
  ssize_t n = RecvMsg(sock, &reply, sizeof(reply), got, 4, &nfds);
  for (int i = 0; i < nfds; ++i) {
    UniqueFd fd(got[i]);
    if (i < max_fds && !fds[i].valid()) fds[i] = std::move(fd);
  }
  return n == sizeof(reply);
}

std::string Why(bool got, const Reply& reply) {
  if (!got || reply.kind != 'F') return "no answer";
  return std::string(reply.stage) + ": " + strerror(reply.value);
}

Status WriteFileText(const std::string& path, const std::string& text) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::IoError("open " + path + ": " + strerror(errno));
  ssize_t n = write(fd.get(), text.data(), text.size());
  if (n != static_cast<ssize_t>(text.size())) {
    return Status::IoError("write " + path + ": " + strerror(errno));
  }
  return Status::OK();
}

timeval FromMicros(int64_t us) {
  return {static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
}

// A run's init: its exit ends the run's pid namespace, so its pidfd turning readable means
// nothing of the run is left; killing it kills the namespace.
class InitControl : public RunControl {
 public:
  explicit InitControl(int pidfd) : pidfd_(pidfd) {}
  int wake_fd() const override { return pidfd_; }
  bool Ended() override {
    pollfd p{pidfd_, POLLIN, 0};
    return poll(&p, 1, 0) > 0;
  }
  void Stop(StopReason, bool) override {
    syscall(SYS_pidfd_send_signal, pidfd_, SIGKILL, nullptr, 0u);
  }

 private:
  int pidfd_;
};

// A ready init as the launcher hands it over: its pidfd and a socket to send the run on.
struct ReadyInit {
  UniqueFd pidfd, sock;
};

}  // namespace

struct NativeLaunchers::Launcher {
  pid_t pid = -1;
  UniqueFd sock;
  std::unique_ptr<RunCgroup> cgroup;
  ~Launcher() {
    sock.Reset();
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

NativeLaunchers::NativeLaunchers(const SandboxProfile& profile)
    : profile_(profile), plan_(std::make_unique<Plan>()) {
  plan_->root = RootPlan(profile);
  plan_->python = profile.python;
  plan_->argv_s = TierAInterpreterArgs(profile.python, profile.sys_path, -1);
  plan_->env_s = SandboxEnv("/scratch", "/tmp", profile.label);
  for (std::string& s : plan_->argv_s) plan_->argv.push_back(s.data());
  plan_->argv.push_back(nullptr);
  for (std::string& s : plan_->env_s) plan_->env.push_back(s.data());
  plan_->env.push_back(nullptr);
  plan_->seccomp_bpf = &profile.seccomp_bpf;
  plan_->root_user = geteuid() == 0;
}

NativeLaunchers::~NativeLaunchers() = default;

// Clones the launcher into its namespaces (and, on cgroup v2, straight into its cgroup). Sets
// `joined` when it started in the cgroup. The launcher waits for a byte on sync_r.
Result<pid_t> NativeLaunchers::Clone(Launcher& launcher, int child_sock, int sync_r, bool& joined) {
  unsigned long flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWUTS |
                        CLONE_NEWIPC | SIGCHLD;
  long pid = -1;
  joined = false;
  if (launcher.cgroup && launcher.cgroup->v2()) {
    // CLONE_INTO_CGROUP starts the launcher in its cgroup (no migration).
    UniqueFd dir(open(launcher.cgroup->dirs()[0].c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    clone_args args{};
    args.flags = (flags & ~0xffUL) | CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = static_cast<uint64_t>(dir.get());
    if (dir.valid()) pid = syscall(SYS_clone3, &args, sizeof(args));
    joined = pid >= 0;
  }
  if (pid < 0) pid = RawClone(flags, nullptr);
  if (pid == 0) RunLauncher(*plan_, child_sock, sync_r);
  if (pid < 0) return Status::Unavailable(std::string("clone namespaces: ") + strerror(errno));
  return static_cast<pid_t>(pid);
}

// Moves the launcher into its cgroup (unless it started there) and writes its id maps: the
// sandbox's 65534 is the host's 65534 when the worker is root, else the worker's own ids.
Status NativeLaunchers::MapIds(const Launcher& launcher, bool joined) {
  if (launcher.cgroup && !joined) {
    for (const std::string& procs : launcher.cgroup->procs_files()) {
      CS_RETURN_IF_ERROR(WriteFileText(procs, std::to_string(launcher.pid)));
    }
  }
  std::string proc = "/proc/" + std::to_string(launcher.pid);
  std::string uid = std::to_string(plan_->root_user ? kSandboxId : geteuid());
  std::string gid = std::to_string(plan_->root_user ? kSandboxId : getegid());
  if (!plan_->root_user) CS_RETURN_IF_ERROR(WriteFileText(proc + "/setgroups", "deny"));
  CS_RETURN_IF_ERROR(WriteFileText(proc + "/uid_map", "65534 " + uid + " 1\n"));
  return WriteFileText(proc + "/gid_map", "65534 " + gid + " 1\n");
}

Result<std::unique_ptr<NativeLaunchers::Launcher>> NativeLaunchers::Start() {
  auto launcher = std::make_unique<Launcher>();
  if (profile_.cgroups) {
    ExecLimits defaults;
    auto cg = profile_.cgroups->Create(defaults.memory_bytes, defaults.max_processes + 2);
    if (cg.ok()) launcher->cgroup = std::move(cg).value();
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return Status::IoError(std::string("socketpair: ") + strerror(errno));
  }
  launcher->sock.Reset(sv[0]);
  UniqueFd child_sock(sv[1]);
  CS_ASSIGN_OR_RETURN(Pipe sync, MakePipe());
  bool joined = false;
  CS_ASSIGN_OR_RETURN(launcher->pid, Clone(*launcher, child_sock.get(), sync.read.get(), joined));
  child_sock.Reset();
  sync.read.Reset();
  CS_RETURN_IF_ERROR(MapIds(*launcher, joined).WithContext("native sandbox"));
  if (write(sync.write.get(), "g", 1) != 1) {
    return Status::Unavailable("native sandbox: launcher gone");
  }
  Reply ready{};
  bool got = ReadReply(launcher->sock.get(), 10000, ready);
  if (!got || ready.kind != 'R') {
    return Status::Unavailable("native sandbox: launcher setup failed: " + Why(got, ready));
  }
  return launcher;
}

namespace {

// The launcher's next ready init ('P'), skipping the previous run's 'D'.
Result<ReadyInit> TakeInit(int launcher_sock) {
  Reply ready{};
  UniqueFd fds[2];
  bool got = false;
  do {
    for (UniqueFd& fd : fds) fd.Reset();
    got = ReadReply(launcher_sock, 10000, ready, fds, 2);
  } while (got && ready.kind == 'D');
  if (!got || ready.kind != 'P' || !fds[0].valid() || !fds[1].valid()) {
    return Status::Unavailable("native sandbox: no init ready: " + Why(got, ready));
  }
  return ReadyInit{std::move(fds[0]), std::move(fds[1])};
}

// Reads the init's messages on the status pipe: true with raw's wait status and usage set when
// it reported the interpreter's end ('X'); false when it said nothing; an error on 'F'.
Result<bool> ReadInitStatus(const UniqueFd& status_pipe, RawRun& raw) {
  fcntl(status_pipe.get(), F_SETFL, O_NONBLOCK);
  StatusMsg m{};
  bool have = false;
  while (read(status_pipe.get(), &m, sizeof(m)) == sizeof(m)) {
    if (m.kind == 'F') {
      return Status::Internal(std::string("native sandbox: run setup failed: ") + m.stage + ": " +
                              strerror(m.value));
    }
    if (m.kind != 'X') continue;
    have = true;
    raw.wait_status = m.value;
    raw.usage.ru_utime = FromMicros(m.utime_us);
    raw.usage.ru_stime = FromMicros(m.stime_us);
    raw.usage.ru_maxrss = m.maxrss_kb;
  }
  return have;
}

}  // namespace

// No status from the init: we killed it (deadline, output), the OOM killer did, or it failed
// before the interpreter started (or with its launcher). The launcher's report of the init
// ('D') has the CPU time. Returns whether the launcher is still usable.
Result<bool> NativeLaunchers::AccountKilledInit(Launcher& launcher, RawRun& raw) {
  Reply done{};
  bool launcher_ok = ReadReply(launcher.sock.get(), 2000, done) && done.kind == 'D';
  bool oom = launcher.cgroup != nullptr && launcher.cgroup->OomKilled();
  if (!raw.timed_out && !raw.output_killed && !oom) {
    return Status::Internal("native sandbox: the run's init ended before the interpreter did");
  }
  raw.wait_status = SIGKILL;
  raw.usage.ru_utime = FromMicros(done.utime_us);
  raw.usage.ru_stime = FromMicros(done.stime_us);
  raw.usage.ru_maxrss = done.maxrss_kb;
  return launcher_ok;
}

Result<ExecResult> NativeLaunchers::RunOn(Launcher& launcher, const ExecRequest& request,
                                          bool& reusable) {
  reusable = false;
  const ExecLimits& limits = request.limits;
  bool have_cgroup = launcher.cgroup != nullptr;
  if (have_cgroup) {
    // The launcher and the init are in the group too.
    CS_RETURN_IF_ERROR(launcher.cgroup->SetLimits(limits.memory_bytes, limits.max_processes + 2));
    launcher.cgroup->BeginRun();
  }
  Request req = MakeRequest(request, have_cgroup);
  CS_ASSIGN_OR_RETURN(UniqueFd code, MemFdWith("cs-code", request.code));
  CS_ASSIGN_OR_RETURN(Pipe out, MakePipe());
  CS_ASSIGN_OR_RETURN(Pipe err, MakePipe());
  CS_ASSIGN_OR_RETURN(Pipe status, MakePipe());
  Clock::time_point start = Clock::now();
  CS_ASSIGN_OR_RETURN(ReadyInit init, TakeInit(launcher.sock.get()));
  int pass[4] = {out.write.get(), err.write.get(), code.get(), status.write.get()};
  if (SendMsg(init.sock.get(), &req, sizeof(req), pass, 4) != 0) {
    return Status::Unavailable("native sandbox: the run's init is gone");
  }
  for (UniqueFd* fd : {&init.sock, &out.write, &err.write, &status.write, &code}) fd->Reset();
  RawRun raw;
  InitControl control(init.pidfd.get());
  CaptureOutput(std::move(out.read), std::move(err.read), limits, start, control, raw);
  CS_ASSIGN_OR_RETURN(bool reported, ReadInitStatus(status.read, raw));
  bool launcher_ok = true;
  if (!reported) {
    CS_ASSIGN_OR_RETURN(launcher_ok, AccountKilledInit(launcher, raw));
  }
  reusable = launcher_ok;
  ExecResult result = Classify(std::move(raw), "A", launcher.cgroup.get(), limits);
  result.backend = "native";
  return result;
}

Result<ExecResult> NativeLaunchers::Run(const ExecRequest& request) {
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Launcher> launcher;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        launcher = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    bool fresh = launcher == nullptr;
    if (fresh) {
      CS_ASSIGN_OR_RETURN(launcher, Start());
    }
    bool reusable = false;
    Result<ExecResult> result = RunOn(*launcher, request, reusable);
    if (reusable) {
      std::lock_guard<std::mutex> lock(mu_);
      idle_.push_back(std::move(launcher));
    }
    // A pooled launcher may have died while idle (e.g. with the thread that started it): retry
    // once on a fresh one.
    if (!result.ok() && !fresh && attempt == 0) continue;
    return result;
  }
}

}  // namespace codesweep
