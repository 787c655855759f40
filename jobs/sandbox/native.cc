// Native tier A. The launcher and the per-run init are forks of the (threaded) worker that never
// exec: they use raw syscalls only (no allocation, no glibc fork/setxid, which take locks that
// another thread may have held at the clone) and read the Plan built before the clone.
#include "jobs/sandbox/native.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <filesystem>

#include "jobs/sandbox/profile.h"
#include "jobs/sandbox/seccomp_policy.h"

namespace codesweep {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kNewRoot = "/tmp";  // mount point of the new root in the launcher's copy
constexpr int kSockFd = 3;
constexpr uid_t kSandboxId = 65534;

// One step of building the launcher's root. Paths are absolute in the launcher's view.
struct RootOp {
  enum Kind { kDir, kFile, kSymlink, kMount, kRemountRo } kind;
  std::string src, dst, fstype, data;
  unsigned long flags = 0;
};

// Per-run request (launcher socket, SOCK_SEQPACKET) with four fds: stdout, stderr, code, status.
struct Request {
  int64_t cpu_seconds, address_space, file_bytes, open_files, processes;
  char tmp_opts[48], code_opts[48];
};

// init -> worker on the status pipe.
struct StatusMsg {
  int32_t kind;   // 'X': the interpreter's wait status in value; 'F': setup failed
  int32_t value;  // wait status, or errno
  char stage[24];
  int64_t utime_us, stime_us, maxrss_kb;  // 'X': the interpreter and what it reaped
};

// launcher -> worker: 'S' (+ the init's pidfd) when the run started, 'D' when the init is reaped.
struct Reply {
  int32_t kind;
  int32_t value;  // 'D': init's wait status; 'F': errno
  int64_t utime_us, stime_us, maxrss_kb;
  char stage[24];
};

void CopyStage(char* out, const char* stage) {
  size_t i = 0;
  for (; stage[i] && i < 23; ++i) out[i] = stage[i];
  out[i] = 0;
}

// Appends the decimal of v to buf (no allocation).
char* PutInt(char* buf, long long v) {
  char tmp[24];
  int n = 0;
  bool neg = v < 0;
  unsigned long long u = neg ? -static_cast<unsigned long long>(v) : v;
  do {
    tmp[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u);
  if (neg) *buf++ = '-';
  while (n) *buf++ = tmp[--n];
  *buf = 0;
  return buf;
}

long RawClone(unsigned long flags, int* pidfd) {
  return syscall(SYS_clone, flags, 0L, pidfd, nullptr, 0L);
}

int SendMsg(int sock, const void* data, size_t size, const int* fds = nullptr, int nfds = 0) {
  iovec iov{const_cast<void*>(data), size};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))];
  if (nfds > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    std::memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
  }
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(size) ? 0 : -1;
}

// Receives one message and up to `max_fds` fds; returns the byte count (0 = peer gone).
ssize_t RecvMsg(int sock, void* data, size_t size, int* fds, int max_fds, int* nfds) {
  iovec iov{data, size};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))];
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  *nfds = 0;
  for (cmsghdr* cm = n > 0 ? CMSG_FIRSTHDR(&msg) : nullptr; cm; cm = CMSG_NXTHDR(&msg, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    int count = static_cast<int>((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
      if (*nfds < max_fds) {
        fds[(*nfds)++] = fd;
      } else {
        close(fd);
      }
    }
  }
  return n;
}

unsigned long LockedFlags(const char* path) {
  struct statfs st;
  if (statfs(path, &st) != 0) return 0;
  unsigned long out = 0;
  if (st.f_flags & ST_NOSUID) out |= MS_NOSUID;
  if (st.f_flags & ST_NODEV) out |= MS_NODEV;
  if (st.f_flags & ST_NOEXEC) out |= MS_NOEXEC;
  if (st.f_flags & ST_NOATIME) out |= MS_NOATIME;
  if (st.f_flags & ST_NODIRATIME) out |= MS_NODIRATIME;
  if (st.f_flags & ST_RELATIME) out |= MS_RELATIME;
  return out;
}

}  // namespace

struct NativeLaunchers::Plan {
  std::vector<RootOp> root;
  std::vector<std::string> argv_s, env_s;
  std::vector<char*> argv, env;
  std::string python;
  const std::string* seccomp_bpf = nullptr;
  bool root_user = false;
};

struct NativeLaunchers::Launcher {
  pid_t pid = -1;
  int sock = -1;
  std::unique_ptr<RunCgroup> cgroup;
  ~Launcher() {
    if (sock >= 0) close(sock);
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

namespace {

// ---- The launcher and init (child side: raw syscalls only) ----

[[noreturn]] void LauncherFail(const char* stage, int err) {
  Reply r{};
  r.kind = 'F';
  r.value = err;
  CopyStage(r.stage, stage);
  SendMsg(kSockFd, &r, sizeof(r));
  _exit(127);
}

void BuildRoot(const std::vector<RootOp>& ops) {
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    LauncherFail("make-private", errno);
  }
  for (const RootOp& op : ops) {
    int rc = 0;
    switch (op.kind) {
      case RootOp::kDir:
        rc = mkdir(op.dst.c_str(), static_cast<mode_t>(op.flags));
        if (rc != 0 && errno == EEXIST) rc = 0;
        break;
      case RootOp::kFile: {
        int fd = open(op.dst.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        rc = fd < 0 ? -1 : close(fd);
        break;
      }
      case RootOp::kSymlink:
        rc = symlink(op.src.c_str(), op.dst.c_str());
        break;
      case RootOp::kMount:
        rc = mount(op.src.c_str(), op.dst.c_str(), op.fstype.empty() ? nullptr : op.fstype.c_str(),
                   op.flags, op.data.empty() ? nullptr : op.data.c_str());
        break;
      case RootOp::kRemountRo:
        rc = mount(nullptr, op.dst.c_str(), nullptr,
                   MS_BIND | MS_REMOUNT | MS_RDONLY | op.flags | LockedFlags(op.dst.c_str()),
                   nullptr);
        break;
    }
    if (rc != 0) LauncherFail(op.dst.c_str(), errno);
  }
  if (chdir(kNewRoot) != 0) LauncherFail("chdir-root", errno);
  if (syscall(SYS_pivot_root, ".", ".") != 0) LauncherFail("pivot_root", errno);
  if (umount2(".", MNT_DETACH) != 0) LauncherFail("umount-old", errno);
  if (chdir("/") != 0) LauncherFail("chdir", errno);
  if (mount(nullptr, "/", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
            nullptr) != 0) {
    LauncherFail("remount-root", errno);
  }
}

void InitFail(int status_fd, const char* stage, int err) {
  StatusMsg m{};
  m.kind = 'F';
  m.value = err;
  CopyStage(m.stage, stage);
  (void)!write(status_fd, &m, sizeof(m));
  _exit(127);
}

void SetLimit(int status_fd, int resource, int64_t value) {
  if (value <= 0) return;
  rlimit r{static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
  if (resource == RLIMIT_CPU) r.rlim_max = r.rlim_cur + 1;  // SIGXCPU first, then SIGKILL
  if (setrlimit(resource, &r) != 0) InitFail(status_fd, "rlimit", errno);
}

void MountRunDirs(const Request& req, int code_fd, int status_fd) {
  const unsigned long kFlags = MS_NOSUID | MS_NODEV;
  if (mount("tmpfs", "/tmp", "tmpfs", kFlags, req.tmp_opts) != 0) {
    InitFail(status_fd, "mount-tmp", errno);
  }
  if (mount("tmpfs", "/scratch", "tmpfs", kFlags, req.tmp_opts) != 0) {
    InitFail(status_fd, "mount-scratch", errno);
  }
  if (mount("tmpfs", "/code", "tmpfs", kFlags, req.code_opts) != 0) {
    InitFail(status_fd, "mount-code", errno);
  }
  int out = open("/code/main.py", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (out < 0) InitFail(status_fd, "code-create", errno);
  char buf[65536];
  ssize_t n;
  while ((n = read(code_fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
    for (ssize_t done = 0; n > 0 && done < n;) {
      ssize_t w = write(out, buf + done, n - done);
      if (w <= 0) InitFail(status_fd, "code-write", errno);
      done += w;
    }
  }
  close(out);
  close(code_fd);
  if (mount(nullptr, "/code", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | kFlags, nullptr) != 0) {
    InitFail(status_fd, "remount-code", errno);
  }
  if (chdir("/scratch") != 0) InitFail(status_fd, "chdir", errno);
}

[[noreturn]] void RunInterpreter(const NativeLaunchers::Plan& plan, const Request& req,
                                 const int* fds) {
  int status_fd = fds[3];
  setsid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) InitFail(status_fd, "pdeathsig", errno);
  int null_fd = open("/dev/null", O_RDONLY);
  if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(fds[0], 1) < 0 || dup2(fds[1], 2) < 0) {
    InitFail(status_fd, "dup2", errno);
  }
  unsigned sfd = static_cast<unsigned>(status_fd);
  if (syscall(SYS_close_range, 3u, sfd - 1, 0u) != 0 ||
      syscall(SYS_close_range, sfd + 1, ~0u, 0u) != 0) {
    InitFail(status_fd, "close_range", errno);
  }
  fcntl(status_fd, F_SETFD, FD_CLOEXEC);
  rlimit zero{0, 0};
  setrlimit(RLIMIT_CORE, &zero);
  SetLimit(status_fd, RLIMIT_CPU, req.cpu_seconds);
  SetLimit(status_fd, RLIMIT_AS, req.address_space);
  SetLimit(status_fd, RLIMIT_FSIZE, req.file_bytes);
  SetLimit(status_fd, RLIMIT_NOFILE, req.open_files);
  SetLimit(status_fd, RLIMIT_NPROC, req.processes);
  for (int cap = 0; cap <= 63; ++cap) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  int err = InstallSeccompBpf(*plan.seccomp_bpf);
  if (err != 0) InitFail(status_fd, "seccomp", err);
  execve(plan.python.c_str(), plan.argv.data(), plan.env.data());
  InitFail(status_fd, "execve", errno);
  _exit(127);
}

// pid 1 of the run's pid namespace: mounts the run's directories, runs the interpreter, reaps
// everything, and reports the interpreter's wait status. Its exit ends the namespace.
// pid 1 of a run's pid namespace, started ahead of the run: mounts its /proc, waits for the
// request on `sock` (straight from the worker), mounts the run's directories, runs the
// interpreter, reaps everything, and reports the interpreter's wait status. Its exit ends the
// namespace. Before the request it has no status pipe: it fails with exit code 126.
[[noreturn]] void RunInit(const NativeLaunchers::Plan& plan, int sock) {
  close(kSockFd);
  prctl(PR_SET_NAME, "cs-init");
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) _exit(126);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, nullptr);
  const unsigned long kFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (mount("proc", "/proc", "proc", kFlags, nullptr) != 0) _exit(126);
  // The OOM killer takes the interpreter (which inherits 1000) before the init and launcher.
  int oom = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (oom >= 0) (void)!write(oom, "1000", 4);
  Request req;
  int fds[4];
  int nfds = 0;
  ssize_t n = RecvMsg(sock, &req, sizeof(req), fds, 4, &nfds);
  close(sock);
  if (n != sizeof(req) || nfds != 4) _exit(0);  // the worker went away
  int status_fd = fds[3];
  MountRunDirs(req, fds[2], status_fd);
  // Not readable or traceable from the sandbox (it holds a copy of the worker's memory). Set
  // only now: until here the launcher may still open our /proc/PID/ns/mnt.
  prctl(PR_SET_DUMPABLE, 0);
  // vfork-style (shared memory, own stack, this process paused until the exec): no copy of
  // the worker's page tables.
  struct Args {
    const NativeLaunchers::Plan* plan;
    const Request* req;
    const int* fds;
    const sigset_t* chld;
  } args{&plan, &req, fds, &chld};
  alignas(16) char stack[64 * 1024];
  long pid = clone(
      [](void* p) -> int {
        const Args* a = static_cast<const Args*>(p);
        sigprocmask(SIG_UNBLOCK, a->chld, nullptr);
        RunInterpreter(*a->plan, *a->req, a->fds);
      },
      stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
  if (pid < 0) InitFail(status_fd, "fork", errno);
  if (oom >= 0) {
    (void)!write(oom, "0", 1);
    close(oom);
  }
  close(fds[0]);
  close(fds[1]);
  for (;;) {
    siginfo_t info;
    sigwaitinfo(&chld, &info);
    int status;
    rusage ru{};
    pid_t reaped;
    while ((reaped = wait4(-1, &status, WNOHANG, &ru)) > 0) {
      if (reaped != pid) continue;
      StatusMsg m{};
      m.kind = 'X';
      m.value = status;
      m.utime_us = ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec;
      m.stime_us = ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec;
      m.maxrss_kb = ru.ru_maxrss;
      (void)!write(status_fd, &m, sizeof(m));
      _exit(0);
    }
  }
}

// Starts the next run's init and hands it to the worker ('P': its pidfd and a socket to send
// the request on), then reports the init's end ('D'). Returns false when the worker is gone.
bool PrepareNext(const NativeLaunchers::Plan& plan, int& held_ns) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    LauncherFail("socketpair", errno);
  }
  int pidfd = -1;
  long pid = RawClone(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_PIDFD | SIGCHLD, &pidfd);
  if (pid == 0) {
    close(pair[0]);
    RunInit(plan, pair[1]);
  }
  close(pair[1]);
  if (pid < 0) LauncherFail("clone-init", errno);
  // Holding the run's mount namespace keeps its teardown (an RCU grace period) out of the
  // init's exit path; it is dropped when the next init is ready, off the result path.
  char path[64] = "/proc/";
  char* end = PutInt(path + 6, pid);
  std::memcpy(end, "/ns/mnt", 8);
  int ns = open(path, O_RDONLY | O_CLOEXEC);
  Reply r{};
  r.kind = 'P';
  int pass[2] = {pidfd, pair[0]};
  bool sent = SendMsg(kSockFd, &r, sizeof(r), pass, 2) == 0;
  close(pidfd);
  close(pair[0]);
  if (held_ns >= 0) close(held_ns);
  held_ns = ns;
  int status = 0;
  rusage ru{};
  while (wait4(static_cast<pid_t>(pid), &status, 0, &ru) < 0 && errno == EINTR) {
  }
  if (!sent) return false;
  r.kind = 'D';
  r.value = status;
  r.utime_us = ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec;
  r.stime_us = ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec;
  r.maxrss_kb = ru.ru_maxrss;
  return SendMsg(kSockFd, &r, sizeof(r)) == 0;
}

[[noreturn]] void RunLauncher(const NativeLaunchers::Plan& plan, int sock, int sync_fd) {
  char go = 0;
  if (read(sync_fd, &go, 1) != 1) _exit(127);
  close(sync_fd);
  if (dup2(sock, kSockFd) < 0) _exit(127);
  syscall(SYS_close_range, kSockFd + 1, ~0u, 0u);
  int null_fd = open("/dev/null", O_RDWR);
  for (int fd = 0; fd < 3; ++fd) dup2(null_fd, fd);
  if (null_fd > 2) close(null_fd);
  prctl(PR_SET_NAME, "cs-launcher");
  // Nothing of the worker's signal set-up (handlers, the thread's mask) carries over.
  for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) LauncherFail("pdeathsig", errno);
  if (plan.root_user) {
    // The worker mapped 65534 to the host's 65534: become it (keeping the namespace's
    // capabilities, as in-namespace root is unmapped) so files are not created as host root.
    if (syscall(SYS_setgroups, 0, nullptr) != 0) LauncherFail("setgroups", errno);
    if (syscall(SYS_setresgid, kSandboxId, kSandboxId, kSandboxId) != 0) {
      LauncherFail("setresgid", errno);
    }
    if (syscall(SYS_setresuid, kSandboxId, kSandboxId, kSandboxId) != 0) {
      LauncherFail("setresuid", errno);
    }
    prctl(PR_SET_DUMPABLE, 1);  // a uid change clears it; the launcher opens /proc/PID/ns
  }
  // The worker's environment (API keys) must not be readable in this process's memory image.
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) std::memset(*e, 0, std::strlen(*e));
  BuildRoot(plan.root);
  if (sethostname("sandbox", 7) != 0) LauncherFail("sethostname", errno);
  // No user namespaces below this one (seccomp denies them as well): bwrap's --disable-userns.
  int fd = open("/proc/sys/user/max_user_namespaces", O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, "0", 1) != 1) LauncherFail("disable-userns", errno);
  close(fd);
  Reply ready{};
  ready.kind = 'R';
  SendMsg(kSockFd, &ready, sizeof(ready));
  int held_ns = -1;
  while (PrepareNext(plan, held_ns)) {
  }
  _exit(0);
}

// ---- Worker side ----

std::string PyQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

void AddBind(std::vector<RootOp>& ops, const std::string& path, bool device) {
  std::string dst = kNewRoot + path;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return;
  ops.push_back({S_ISDIR(st.st_mode) ? RootOp::kDir : RootOp::kFile, "", dst, "", "", 0755});
  ops.push_back({RootOp::kMount, path, dst, "", "", MS_BIND | MS_REC});
  ops.push_back({RootOp::kRemountRo, "", dst, "", "",
                 static_cast<unsigned long>(MS_NOSUID | (device ? 0 : MS_NODEV))});
}

std::vector<RootOp> RootPlan(const SandboxProfile& profile) {
  std::vector<RootOp> ops;
  ops.push_back(
      {RootOp::kMount, "tmpfs", kNewRoot, "tmpfs", "size=1m,mode=0755", MS_NOSUID | MS_NODEV});
  AddBind(ops, "/usr", false);
  for (const char* top : {"/bin", "/lib", "/lib64", "/lib32", "/sbin"}) {
    char target[PATH_MAX];
    ssize_t n = readlink(top, target, sizeof(target) - 1);
    if (n > 0) {
      ops.push_back({RootOp::kSymlink, std::string(target, n), kNewRoot + std::string(top)});
    } else {
      AddBind(ops, top, false);
    }
  }
  std::string prefix = std::filesystem::path(profile.python).parent_path().parent_path();
  if (prefix != "/usr" && prefix != "/") {
    std::filesystem::path acc = "/";
    for (const auto& part : std::filesystem::path(prefix).relative_path().parent_path()) {
      acc /= part;
      ops.push_back({RootOp::kDir, "", kNewRoot + acc.string(), "", "", 0755});
    }
    AddBind(ops, prefix, false);
  }
  ops.push_back({RootOp::kDir, "", kNewRoot + std::string("/etc"), "", "", 0755});
  for (const std::string& p : TierAEtcPaths()) AddBind(ops, p, false);
  std::string dev = kNewRoot + std::string("/dev");
  ops.push_back({RootOp::kDir, "", dev, "", "", 0755});
  ops.push_back({RootOp::kMount, "tmpfs", dev, "tmpfs", "size=64k,mode=0755", MS_NOSUID});
  for (const char* d : {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"}) {
    std::string dst = kNewRoot + std::string(d);
    ops.push_back({RootOp::kFile, "", dst, "", "", 0});
    ops.push_back({RootOp::kMount, d, dst, "", "", MS_BIND});
  }
  for (auto [target, name] : {std::pair{"/proc/self/fd", "fd"},
                              {"/proc/self/fd/0", "stdin"},
                              {"/proc/self/fd/1", "stdout"},
                              {"/proc/self/fd/2", "stderr"},
                              {"/tmp", "shm"}}) {
    ops.push_back({RootOp::kSymlink, target, dev + "/" + name});
  }
  ops.push_back({RootOp::kRemountRo, "", dev, "", "", MS_NOSUID});
  for (const char* d : {"/proc", "/tmp", "/scratch", "/code"}) {
    ops.push_back({RootOp::kDir, "", kNewRoot + std::string(d), "", "", 0755});
  }
  ops.push_back(
      {RootOp::kMount, "proc", kNewRoot + std::string("/proc"), "proc", "", MS_NOSUID | MS_NODEV});
  return ops;
}

int64_t ElapsedMs(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// Waits up to `timeout_ms` for a reply from the launcher; false when it is gone or silent. The
// fds that came with it go to fd[0], fd[1] (those still -1); extra ones are closed.
bool ReadReply(int sock, int timeout_ms, Reply& reply, int* fd, int max_fds = 1) {
  pollfd p{sock, POLLIN, 0};
  int rc;
  do {
    rc = poll(&p, 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  if (rc <= 0) return false;
  int nfds = 0;
  int fds[4];
  ssize_t n = RecvMsg(sock, &reply, sizeof(reply), fds, 4, &nfds);
  for (int i = 0; i < nfds; ++i) {
    if (fd != nullptr && i < max_fds && fd[i] < 0) {
      fd[i] = fds[i];
    } else {
      close(fds[i]);
    }
  }
  return n == sizeof(reply);
}

struct OwnedFd {
  int fd = -1;
  OwnedFd() = default;
  explicit OwnedFd(int f) : fd(f) {}
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  ~OwnedFd() { Reset(); }
  void Reset() {
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

Status OldPipe(OwnedFd& r, OwnedFd& w) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return Status::IoError(std::string("pipe: ") + strerror(errno));
  r.fd = p[0];
  w.fd = p[1];
  return Status::OK();
}

Status WriteFileText(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("open " + path + ": " + strerror(errno));
  ssize_t n = write(fd, text.data(), text.size());
  int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    return Status::IoError("write " + path + ": " + strerror(err));
  }
  return Status::OK();
}

Request MakeRequest(const ExecRequest& request, bool have_cgroup) {
  ChildLimits child = LimitsFor(request.limits, have_cgroup);
  Request req{};
  req.cpu_seconds = child.cpu_seconds;
  req.address_space = child.address_space;
  req.file_bytes = child.file_bytes;
  req.open_files = child.open_files;
  req.processes = child.processes;
  std::snprintf(req.tmp_opts, sizeof(req.tmp_opts), "size=%lld,mode=1777",
                static_cast<long long>(request.limits.tmp_bytes));
  std::snprintf(req.code_opts, sizeof(req.code_opts), "size=%lld,mode=0755",
                static_cast<long long>(request.code.size() + 65536));
  return req;
}

// Reads the run's output until its init is gone (its pidfd is readable) and the pipes are
// drained, killing the run at the deadline or past the output cap.
RawRun CaptureRun(int pidfd, OwnedFd& out_r, OwnedFd& err_r, const ExecLimits& limits,
                  Clock::time_point start) {
  RawRun raw;
  auto kill_run = [&] { syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0u); };
  std::string* texts[2] = {&raw.stdout_text, &raw.stderr_text};
  bool* truncs[2] = {&raw.stdout_truncated, &raw.stderr_truncated};
  OwnedFd* streams[2] = {&out_r, &err_r};
  int64_t total = 0;
  bool ended = false;  // the init's pidfd is readable: nothing of the run is left
  Clock::time_point deadline = start + std::chrono::milliseconds(limits.wall_ms);
  Clock::time_point drain_until = Clock::time_point::max();
  while (!ended || ((out_r.fd >= 0 || err_r.fd >= 0) && Clock::now() < drain_until)) {
    pollfd p[3];
    int n = 0;
    for (OwnedFd* s : streams) p[n++] = {s->fd, POLLIN, 0};
    p[n++] = {ended ? -1 : pidfd, POLLIN, 0};
    Clock::time_point wake = ended ? drain_until
                             : raw.timed_out || raw.output_killed
                                 ? Clock::now() + std::chrono::milliseconds(100)
                                 : deadline;
    int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(wake - Clock::now()).count();
    poll(p, n, static_cast<int>(std::clamp<int64_t>(ms, 0, 1000)));
    for (int i = 0; i < 2; ++i) {
      if (streams[i]->fd < 0 || p[i].revents == 0) continue;
      char buf[65536];
      ssize_t got = read(streams[i]->fd, buf, sizeof(buf));
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got <= 0) {
        streams[i]->Reset();
        continue;
      }
      total += got;
      size_t room = static_cast<size_t>(limits.keep_output_bytes) -
                    std::min<size_t>(texts[i]->size(), limits.keep_output_bytes);
      texts[i]->append(buf, std::min<size_t>(room, got));
      if (static_cast<size_t>(got) > room) *truncs[i] = true;
    }
    if (!ended && p[2].revents != 0) {
      ended = true;
      drain_until = Clock::now() + std::chrono::milliseconds(200);
      continue;
    }
    if (!raw.output_killed && total > limits.kill_output_bytes) {
      raw.output_killed = true;
      kill_run();
    } else if (!raw.timed_out && !raw.output_killed && Clock::now() >= deadline) {
      raw.timed_out = true;
      kill_run();
    } else if (raw.timed_out || raw.output_killed) {
      kill_run();  // repeated until the init is gone
    }
  }
  raw.wall_ms = ElapsedMs(start);
  return raw;
}

}  // namespace

std::vector<std::string> TierAInterpreterArgs(const std::string& python,
                                              const std::vector<std::string>& sys_path,
                                              int status_fd) {
  std::string path_list = "[";
  for (const std::string& p : sys_path) path_list += PyQuote(p) + ",";
  path_list += "]";
  auto marker = [&](const std::string& code) {
    if (status_fd < 0) return std::string();
    return "    __import__('os').write(" + std::to_string(status_fd) + ", b'%d' % (" + code +
           "))\n";
  };
  std::string pre =
      "__import__('sys').path[:] = " + path_list +
      "\n"
      "__import__('sys').argv[:] = ['/code/main.py']\n"
      "__file__ = '/code/main.py'\n"
      "__cached__ = None\n"
      "__cs_b, __cs_s = __import__('builtins'), __import__('_sitebuiltins')\n"
      "__cs_b.exit = __cs_s.Quitter('exit', 'Ctrl-D (i.e. EOF)')\n"
      "__cs_b.quit = __cs_s.Quitter('quit', 'Ctrl-D (i.e. EOF)')\n"
      "__cs_b.help = __cs_s._Helper()\n"
      // site's _Printer imports os when made (~1 ms); these make it when used.
      "class __cs_P:\n"
      "    def __init__(self, *a): self.a = a\n"
      "    def __repr__(self): return repr(__import__('_sitebuiltins')._Printer(*self.a))\n"
      "    def __call__(self): return __import__('_sitebuiltins')._Printer(*self.a)()\n"
      "__cs_b.copyright = __cs_P('copyright', __import__('sys').copyright)\n"
      "__cs_b.credits = __cs_P('credits', 'See https://www.python.org/.')\n"
      "__cs_b.license = __cs_P('license', 'See https://www.python.org/psf/license/')\n"
      "del __cs_b, __cs_s, __cs_P\n"
      "try:\n"
      "    exec(compile(open(__file__, 'rb').read(), __file__, 'exec', dont_inherit=True))\n"
      "except SystemExit as __cs_e:\n" +
      marker(
          "0 if __cs_e.code is None else __cs_e.code & 255 if isinstance(__cs_e.code, int) "
          "else 1") +
      "    raise\n"
      "except BaseException as __cs_e:\n"
      "    __cs_e.__traceback__ = __cs_e.__traceback__.tb_next\n"
      "    __import__('sys').excepthook(type(__cs_e), __cs_e, __cs_e.__traceback__)\n" +
      marker("1") + "    raise SystemExit(1) from None\n";
  if (status_fd >= 0) pre += "else:\n" + marker("0");
  return {python, "-I", "-S", "-c", pre};
}

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
  launcher->sock = sv[0];
  OwnedFd child_sock(sv[1]), sync_r, sync_w;
  CS_RETURN_IF_ERROR(OldPipe(sync_r, sync_w));
  unsigned long flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWUTS |
                        CLONE_NEWIPC | SIGCHLD;
  long pid = -1;
  bool joined = false;
  if (launcher->cgroup && launcher->cgroup->v2()) {
    // CLONE_INTO_CGROUP starts the launcher in its cgroup (no migration).
    OwnedFd dir(open(launcher->cgroup->dirs()[0].c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    clone_args args{};
    args.flags = (flags & ~0xffUL) | CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = static_cast<uint64_t>(dir.fd);
    if (dir.fd >= 0) pid = syscall(SYS_clone3, &args, sizeof(args));
    joined = pid >= 0;
  }
  if (pid < 0) pid = RawClone(flags, nullptr);
  if (pid == 0) RunLauncher(*plan_, child_sock.fd, sync_r.fd);
  if (pid < 0) return Status::Unavailable(std::string("clone namespaces: ") + strerror(errno));
  launcher->pid = static_cast<pid_t>(pid);
  child_sock.Reset();
  sync_r.Reset();
  std::string proc = "/proc/" + std::to_string(pid);
  std::string uid = std::to_string(plan_->root_user ? kSandboxId : geteuid());
  std::string gid = std::to_string(plan_->root_user ? kSandboxId : getegid());
  Status st = Status::OK();
  if (launcher->cgroup && !joined) {
    for (const std::string& procs : launcher->cgroup->procs_files()) {
      if (st.ok()) st = WriteFileText(procs, std::to_string(pid));
    }
  }
  if (st.ok() && !plan_->root_user) st = WriteFileText(proc + "/setgroups", "deny");
  if (st.ok()) st = WriteFileText(proc + "/uid_map", "65534 " + uid + " 1\n");
  if (st.ok()) st = WriteFileText(proc + "/gid_map", "65534 " + gid + " 1\n");
  if (!st.ok()) return st.WithContext("native sandbox");
  if (write(sync_w.fd, "g", 1) != 1) return Status::Unavailable("native sandbox: launcher gone");
  Reply ready{};
  if (!ReadReply(launcher->sock, 10000, ready, nullptr) || ready.kind != 'R') {
    std::string why =
        ready.kind == 'F' ? std::string(ready.stage) + ": " + strerror(ready.value) : "no answer";
    return Status::Unavailable("native sandbox: launcher setup failed: " + why);
  }
  return launcher;
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
  CS_ASSIGN_OR_RETURN(UniqueFd code_memfd, MemFdWith("cs-code", request.code));
  int code_raw = code_memfd.Release();
  OwnedFd code(code_raw), out_r, out_w, err_r, err_w, st_r, st_w;
  CS_RETURN_IF_ERROR(OldPipe(out_r, out_w));
  CS_RETURN_IF_ERROR(OldPipe(err_r, err_w));
  CS_RETURN_IF_ERROR(OldPipe(st_r, st_w));
  Clock::time_point start = Clock::now();
  // The launcher has the run's init ready ('P', after the previous run's 'D').
  Reply ready{};
  int got_fds[2] = {-1, -1};
  bool got = false;
  do {
    for (int& fd : got_fds) {
      if (fd >= 0) close(fd);
      fd = -1;
    }
    got = ReadReply(launcher.sock, 10000, ready, got_fds, 2);
  } while (got && ready.kind == 'D');
  OwnedFd pidfd(got_fds[0]), init_sock(got_fds[1]);
  if (!got || ready.kind != 'P' || pidfd.fd < 0 || init_sock.fd < 0) {
    std::string why = got && ready.kind == 'F'
                          ? std::string(ready.stage) + ": " + strerror(ready.value)
                          : "no answer";
    return Status::Unavailable("native sandbox: no init ready: " + why);
  }
  int pass[4] = {out_w.fd, err_w.fd, code.fd, st_w.fd};
  if (SendMsg(init_sock.fd, &req, sizeof(req), pass, 4) != 0) {
    return Status::Unavailable("native sandbox: the run's init is gone");
  }
  init_sock.Reset();
  out_w.Reset();
  err_w.Reset();
  st_w.Reset();
  code.Reset();
  RawRun raw = CaptureRun(pidfd.fd, out_r, err_r, limits, start);
  fcntl(st_r.fd, F_SETFL, O_NONBLOCK);
  StatusMsg m{};
  bool have_status = false;
  while (read(st_r.fd, &m, sizeof(m)) == sizeof(m)) {
    if (m.kind == 'F') {
      return Status::Internal(std::string("native sandbox: run setup failed: ") + m.stage + ": " +
                              strerror(m.value));
    }
    have_status = m.kind == 'X';
    raw.wait_status = m.value;
  }
  bool launcher_ok = true;
  if (!have_status) {
    // No status from the init: we killed it (deadline, output), the OOM killer did, or it
    // failed before the interpreter started (or with its launcher). The launcher's report of
    // the init has the CPU time.
    Reply done{};
    launcher_ok = ReadReply(launcher.sock, 2000, done, nullptr) && done.kind == 'D';
    bool oom = launcher.cgroup != nullptr && launcher.cgroup->OomKilled();
    if (!raw.timed_out && !raw.output_killed && !oom) {
      return Status::Internal("native sandbox: the run's init ended before the interpreter did");
    }
    raw.wait_status = SIGKILL;
    m.utime_us = done.utime_us;
    m.stime_us = done.stime_us;
    m.maxrss_kb = done.maxrss_kb;
  }
  raw.usage.ru_utime = {static_cast<time_t>(m.utime_us / 1000000),
                        static_cast<suseconds_t>(m.utime_us % 1000000)};
  raw.usage.ru_stime = {static_cast<time_t>(m.stime_us / 1000000),
                        static_cast<suseconds_t>(m.stime_us % 1000000)};
  raw.usage.ru_maxrss = m.maxrss_kb;
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
