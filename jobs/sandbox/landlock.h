// Landlock (tier B): restricts a process to read-only system paths and one read-write scratch
// directory, denies TCP bind/connect (ABI >= 4) and scopes signals and abstract sockets to the
// sandbox (ABI >= 6). Raw syscalls only (no libc wrapper exists); ApplyLandlock runs in a child
// between fork and exec and must not allocate. The plan is built before fork and only read.
#pragma once

#include <string>
#include <vector>

namespace codesweep {

// The kernel's Landlock ABI version, or 0 when Landlock is unavailable.
int LandlockAbiVersion();

struct LandlockPlan {
  std::vector<std::string> read_only;   // files or directories: read + execute
  std::vector<std::string> read_write;  // directories: everything
  std::vector<std::string> devices;     // character devices read + write (/dev/null)
};

// Restricts the calling thread (and its future children) to the plan. Paths that do not exist
// are skipped. Sets no_new_privs. Returns 0 or an errno value.
int ApplyLandlock(const LandlockPlan& plan);

}  // namespace codesweep
