// The native backend's launcher and per-run init (native_internal.h). Both are forks of the
// (threaded) worker that never exec: raw syscalls only, no allocation, no glibc fork or setxid
// (they take locks another thread may have held at the clone); they read only the Plan.
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

#include <cerrno>
#include <cstring>

#include "jobs/sandbox/native_internal.h"
#include "jobs/sandbox/seccomp_policy.h"

namespace codesweep {
namespace {

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

[[noreturn]] void InitFail(int status_fd, const char* stage, int err) {
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

int64_t Micros(const timeval& tv) { return tv.tv_sec * 1000000LL + tv.tv_usec; }

// Starts the interpreter vfork-style (shared memory, own stack, the init paused until the exec):
// no copy of the worker's page tables. Returns its pid.
long StartInterpreter(const NativeLaunchers::Plan& plan, const Request& req, const int* fds,
                      const sigset_t& chld) {
  struct Args {
    const NativeLaunchers::Plan* plan;
    const Request* req;
    const int* fds;
    const sigset_t* chld;
  } args{&plan, &req, fds, &chld};
  alignas(16) char stack[64 * 1024];
  return clone(
      [](void* p) -> int {
        const Args* a = static_cast<const Args*>(p);
        sigprocmask(SIG_UNBLOCK, a->chld, nullptr);
        RunInterpreter(*a->plan, *a->req, a->fds);
      },
      stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
}

// Reaps everything in the pid namespace until the interpreter is reaped, then reports its wait
// status and rusage on `status_fd` and exits (which ends the namespace).
[[noreturn]] void ReapAndReport(pid_t interpreter, const sigset_t& chld, int status_fd) {
  for (;;) {
    siginfo_t info;
    sigwaitinfo(&chld, &info);
    int status;
    rusage ru{};
    pid_t reaped;
    while ((reaped = wait4(-1, &status, WNOHANG, &ru)) > 0) {
      if (reaped != interpreter) continue;
      StatusMsg m{};
      m.kind = 'X';
      m.value = status;
      m.utime_us = Micros(ru.ru_utime);
      m.stime_us = Micros(ru.ru_stime);
      m.maxrss_kb = ru.ru_maxrss;
      (void)!write(status_fd, &m, sizeof(m));
      _exit(0);
    }
  }
}

// The init's set-up before its run arrives: name, PDEATHSIG, SIGCHLD blocked (into `chld`),
// its own /proc. Returns the open oom_score_adj file, set to 1000 (or -1).
int PrepareInit(sigset_t& chld) {
  close(kSockFd);
  prctl(PR_SET_NAME, "cs-init");
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) _exit(126);
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, nullptr);
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) _exit(126);
  // The OOM killer takes the interpreter (which inherits 1000) before the init and launcher.
  int oom = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (oom >= 0) (void)!write(oom, "1000", 4);
  return oom;
}

// pid 1 of a run's pid namespace, started ahead of the run: mounts its /proc, waits for the
// request on `sock` (straight from the worker), mounts the run's directories, runs the
// interpreter, reaps everything, and reports the interpreter's wait status. Its exit ends the
// namespace. Before the request it has no status pipe: it fails with exit code 126.
[[noreturn]] void RunInit(const NativeLaunchers::Plan& plan, int sock) {
  sigset_t chld;
  int oom = PrepareInit(chld);
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
  long pid = StartInterpreter(plan, req, fds, chld);
  if (pid < 0) InitFail(status_fd, "fork", errno);
  if (oom >= 0) {
    (void)!write(oom, "0", 1);
    close(oom);
  }
  close(fds[0]);
  close(fds[1]);
  ReapAndReport(static_cast<pid_t>(pid), chld, status_fd);
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
  r.utime_us = Micros(ru.ru_utime);
  r.stime_us = Micros(ru.ru_stime);
  r.maxrss_kb = ru.ru_maxrss;
  return SendMsg(kSockFd, &r, sizeof(r)) == 0;
}

// Only the worker's socket at kSockFd and /dev/null on 0-2; no handlers or mask of the worker.
void ResetLauncherProcess(int sock) {
  if (dup2(sock, kSockFd) < 0) _exit(127);
  syscall(SYS_close_range, kSockFd + 1, ~0u, 0u);
  int null_fd = open("/dev/null", O_RDWR);
  for (int fd = 0; fd < 3; ++fd) dup2(null_fd, fd);
  if (null_fd > 2) close(null_fd);
  prctl(PR_SET_NAME, "cs-launcher");
  for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

// The worker mapped 65534 to the host's 65534: become it (keeping the namespace's capabilities,
// as in-namespace root is unmapped) so files are not created as host root.
void BecomeSandboxUser() {
  if (syscall(SYS_setgroups, 0, nullptr) != 0) LauncherFail("setgroups", errno);
  if (syscall(SYS_setresgid, kSandboxId, kSandboxId, kSandboxId) != 0) {
    LauncherFail("setresgid", errno);
  }
  if (syscall(SYS_setresuid, kSandboxId, kSandboxId, kSandboxId) != 0) {
    LauncherFail("setresuid", errno);
  }
  prctl(PR_SET_DUMPABLE, 1);  // a uid change clears it; the launcher opens /proc/PID/ns
}

// The worker's end of the launcher socket is closed (it sends nothing before 'R').
bool WorkerGone() {
  pollfd p{kSockFd, POLLIN | POLLRDHUP, 0};
  return poll(&p, 1, 0) > 0;
}

}  // namespace

void RunLauncher(const NativeLaunchers::Plan& plan, int sock, int sync_fd) {
  char go = 0;
  if (read(sync_fd, &go, 1) != 1) _exit(127);
  close(sync_fd);
  ResetLauncherProcess(sock);
  if (plan.root_user) BecomeSandboxUser();
  // After the uid change, which clears it. The launcher is pid 1 of its pid namespace: its death
  // kills every init and interpreter below it.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) LauncherFail("pdeathsig", errno);
  if (WorkerGone()) _exit(0);  // it died before PDEATHSIG was set
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

long RawClone(unsigned long flags, int* pidfd) {
  return syscall(SYS_clone, flags, 0L, pidfd, nullptr, 0L);
}

int SendMsg(int sock, const void* data, size_t size, const int* fds, int nfds) {
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

}  // namespace codesweep
