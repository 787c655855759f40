// libseccomp adapter: the one place the seccomp rule list lives.
#include "jobs/sandbox/seccomp_policy.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace codesweep {
namespace {

struct CtxDeleter {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

// Denied outright (EPERM). Names unknown to this libseccomp/arch are skipped.
constexpr const char* kDenied[] = {"ptrace",
                                   "process_vm_readv",
                                   "process_vm_writev",
                                   "mount",
                                   "umount",
                                   "umount2",
                                   "pivot_root",
                                   "move_mount",
                                   "open_tree",
                                   "fsopen",
                                   "fsmount",
                                   "fsconfig",
                                   "fspick",
                                   "mount_setattr",
                                   "unshare",
                                   "setns",
                                   "keyctl",
                                   "add_key",
                                   "request_key",
                                   "bpf",
                                   "perf_event_open",
                                   "userfaultfd",
                                   "io_uring_setup",
                                   "io_uring_enter",
                                   "io_uring_register",
                                   "kexec_load",
                                   "kexec_file_load",
                                   "init_module",
                                   "finit_module",
                                   "delete_module",
                                   "reboot",
                                   "swapon",
                                   "swapoff",
                                   "acct",
                                   "quotactl",
                                   "syslog",
                                   "chroot",
                                   "settimeofday",
                                   "clock_settime",
                                   "clock_adjtime",
                                   "adjtimex",
                                   "open_by_handle_at",
                                   "name_to_handle_at",
                                   "lookup_dcookie",
                                   "vhangup",
                                   "iopl",
                                   "ioperm",
                                   "pidfd_getfd"};

constexpr uint64_t kSockTypeMask = 0xf;  // the type bits of socket()'s type (SOCK_TYPE_MASK)

constexpr uint64_t kNamespaceFlags[] = {CLONE_NEWNS,  CLONE_NEWUSER, CLONE_NEWPID,   CLONE_NEWNET,
                                        CLONE_NEWIPC, CLONE_NEWUTS,  CLONE_NEWCGROUP};

Status AddRules(scmp_filter_ctx ctx, const SeccompPolicy& policy) {
  const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
  for (const char* name : kDenied) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;
    if (seccomp_rule_add(ctx, eperm, nr, 0) != 0) {
      return Status::Internal(std::string("seccomp: cannot deny ") + name);
    }
  }
  int rc = 0;
  // Sockets: no socket() of any family (a new AF_UNIX socket reaches host sockets by path, or by
  // abstract name outside a network namespace). socketpair() stays for AF_UNIX stream and
  // seqpacket pairs, which are connected to each other for good; a datagram pair's socket could
  // sendto() or connect() to any address, so it is denied.
  rc |= seccomp_rule_add(ctx, eperm, SCMP_SYS(socket), 0);
  rc |= seccomp_rule_add(ctx, eperm, SCMP_SYS(socketpair), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX));
  rc |= seccomp_rule_add(ctx, eperm, SCMP_SYS(socketpair), 1,
                         SCMP_A1(SCMP_CMP_MASKED_EQ, kSockTypeMask, SOCK_DGRAM));
  // Namespace clones. clone3 passes flags in memory the filter cannot read: ENOSYS -> clone.
  for (uint64_t flag : kNamespaceFlags) {
    rc |= seccomp_rule_add(ctx, eperm, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
  }
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  // Terminal injection.
  rc |= seccomp_rule_add(ctx, eperm, SCMP_SYS(ioctl), 1,
                         SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI));
  rc |= seccomp_rule_add(ctx, eperm, SCMP_SYS(ioctl), 1,
                         SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX));
  if (policy.deny_kill_all) {
    rc |= seccomp_rule_add(ctx, eperm, SCMP_SYS(kill), 1,
                           SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, 0xffffffffu));
  }
  if (rc != 0) return Status::Internal("seccomp: cannot add argument rules");
  return Status::OK();
}

}  // namespace

Result<std::string> BuildSeccompBpf(const SeccompPolicy& policy) {
  Ctx ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return Status::Internal("seccomp_init failed");
  // We set no_new_privs ourselves (InstallSeccompBpf); bwrap sets it too.
  CS_RETURN_IF_ERROR(AddRules(ctx.get(), policy));
  int fd = memfd_create("cs-seccomp", MFD_CLOEXEC);
  if (fd < 0) return Status::IoError(std::string("memfd_create: ") + std::strerror(errno));
  std::string bpf;
  if (seccomp_export_bpf(ctx.get(), fd) == 0) {
    off_t size = lseek(fd, 0, SEEK_END);
    bpf.resize(size > 0 ? static_cast<size_t>(size) : 0);
    if (size <= 0 || pread(fd, bpf.data(), bpf.size(), 0) != size) bpf.clear();
  }
  close(fd);
  if (bpf.empty() || bpf.size() % sizeof(sock_filter) != 0) {
    return Status::Internal("seccomp: cannot export BPF");
  }
  return bpf;
}

int InstallSeccompBpf(const std::string& bpf) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(bpf.size() / sizeof(sock_filter));
  prog.filter = reinterpret_cast<sock_filter*>(const_cast<char*>(bpf.data()));
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) return errno;
  return 0;
}

}  // namespace codesweep
