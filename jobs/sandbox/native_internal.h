// Internals of the native tier-A backend (native.h) shared by its three files: the worker side
// (native.cc), the plan built before any clone (native_plan.cc) and the launcher and per-run init
// (native_launcher.cc), which are forks of the threaded worker that never exec and so use raw
// syscalls only. The messages are fixed-size structs on SOCK_SEQPACKET sockets and pipes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "jobs/sandbox/executor.h"
#include "jobs/sandbox/native.h"

namespace codesweep {

inline constexpr const char* kNewRoot = "/tmp";  // the new root's mount point in the launcher
inline constexpr int kSockFd = 3;                // the launcher's socket to the worker
inline constexpr uid_t kSandboxId = 65534;

// One step of building the launcher's root. Paths are absolute in the launcher's view.
struct RootOp {
  enum Kind { kDir, kFile, kSymlink, kMount, kRemountRo } kind;
  std::string src, dst, fstype, data;
  unsigned long flags = 0;
};

// Everything the launcher and init read: built before the launcher is cloned, never changed.
struct NativeLaunchers::Plan {
  std::vector<RootOp> root;
  std::vector<std::string> argv_s, env_s;
  std::vector<char*> argv, env;
  std::string python;
  const std::string* seccomp_bpf = nullptr;
  bool root_user = false;  // the worker is root: the sandbox runs as the host's 65534
};

// worker -> init, per run, with four fds: stdout, stderr, code (memfd), status pipe.
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

// launcher -> worker: 'R' when the launcher is set up; 'P' (+ the next init's pidfd and a
// socket to it) when a run's init is ready; 'D' when that init is reaped; 'F' on failure.
struct Reply {
  int32_t kind;
  int32_t value;  // 'D': init's wait status; 'F': errno
  int64_t utime_us, stime_us, maxrss_kb;
  char stage[24];
};

// clone(2) without glibc's fork handling; CLONE_PIDFD puts the pidfd in *pidfd.
long RawClone(unsigned long flags, int* pidfd);

// Sends one message with up to four fds; 0 or -1. Raw syscalls only.
int SendMsg(int sock, const void* data, size_t size, const int* fds = nullptr, int nfds = 0);
// Receives one message and up to `max_fds` (<= 4) fds (CLOEXEC); the byte count, 0 = peer gone.
ssize_t RecvMsg(int sock, void* data, size_t size, int* fds, int max_fds, int* nfds);

// The launcher's body (native_launcher.cc): waits for the go byte on `sync_fd`, builds the root
// and serves inits on `sock` until the worker is gone.
[[noreturn]] void RunLauncher(const NativeLaunchers::Plan& plan, int sock, int sync_fd);

// The mount plan of the launcher's root (native_plan.cc).
std::vector<RootOp> RootPlan(const SandboxProfile& profile);

// The per-run request for `request`'s limits (native_plan.cc).
Request MakeRequest(const ExecRequest& request, bool have_cgroup);

}  // namespace codesweep
