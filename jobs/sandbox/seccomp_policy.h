// The sandbox's seccomp filter: built once with libseccomp into raw BPF bytes (at MakeSandbox
// time), then either handed to bubblewrap (tier A, --seccomp FD) or installed directly in a
// forked child (tiers B and C, InstallSeccompBpf). The bytes are immutable; any thread may read.
#pragma once

#include <string>

#include "base/status.h"

namespace codesweep {

struct SeccompPolicy {
  // Deny kill()/tgkill() aimed at pid -1 (every process the user may signal). Needed where there
  // is no pid namespace (tiers B and C); inside a pid namespace kill(-1) only reaches the sandbox.
  bool deny_kill_all = false;
};

// Returns the filter as a struct sock_filter array (8 bytes per instruction). Default action is
// allow; denied calls (socket() of any family, datagram socketpairs, ptrace, mounts, namespaces,
// ...) fail with EPERM (clone3 with ENOSYS so libc falls back to clone, which the
// filter can inspect); calls from a foreign architecture kill the process.
Result<std::string> BuildSeccompBpf(const SeccompPolicy& policy);

// Sets no_new_privs and installs `bpf` on the calling thread. Only raw syscalls: safe in a child
// between fork and exec. Returns 0 or an errno value.
int InstallSeccompBpf(const std::string& bpf);

}  // namespace codesweep
