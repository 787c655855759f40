// Landlock via raw syscalls; constants past the installed header's ABI are defined here.
#include "jobs/sandbox/landlock.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace codesweep {
namespace {

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif

constexpr uint32_t kCreateVersion = 1u << 0;
constexpr int kRulePathBeneath = 1;

constexpr uint64_t kExecute = 1ull << 0, kWriteFile = 1ull << 1, kReadFile = 1ull << 2,
                   kReadDir = 1ull << 3, kTruncate = 1ull << 14, kIoctlDev = 1ull << 15;
constexpr uint64_t kNetBindTcp = 1ull << 0, kNetConnectTcp = 1ull << 1;
constexpr uint64_t kScopeAbstractUnix = 1ull << 0, kScopeSignal = 1ull << 1;

struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};

struct __attribute__((packed)) PathBeneathAttr {
  uint64_t allowed_access;
  int32_t parent_fd;
};

uint64_t FsRightsFor(int abi) {
  uint64_t all = (1ull << 13) - 1;  // ABI 1: bits 0..12
  if (abi >= 2) all |= 1ull << 13;  // REFER
  if (abi >= 3) all |= kTruncate;
  if (abi >= 5) all |= kIoctlDev;
  return all;
}

int AddPath(int ruleset, const char* path, uint64_t wanted, uint64_t handled) {
  int fd = open(path, O_PATH | O_CLOEXEC);
  if (fd < 0) return 0;  // missing paths are skipped
  struct stat st;
  uint64_t allowed = wanted & handled;
  if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) {
    allowed &= kExecute | kWriteFile | kReadFile | kTruncate | kIoctlDev;
  }
  PathBeneathAttr attr{allowed, fd};
  long rc = syscall(__NR_landlock_add_rule, ruleset, kRulePathBeneath, &attr, 0);
  int err = rc == 0 ? 0 : errno;
  close(fd);
  return err;
}

}  // namespace

int LandlockAbiVersion() {
  long v = syscall(__NR_landlock_create_ruleset, nullptr, 0, kCreateVersion);
  return v < 0 ? 0 : static_cast<int>(v);
}

int ApplyLandlock(const LandlockPlan& plan) {
  int abi = LandlockAbiVersion();
  if (abi <= 0) return ENOSYS;
  uint64_t fs = FsRightsFor(abi);
  RulesetAttr attr{fs, 0, 0};
  size_t size = sizeof(uint64_t);
  if (abi >= 4) {
    attr.handled_access_net = kNetBindTcp | kNetConnectTcp;
    size = 2 * sizeof(uint64_t);
  }
  if (abi >= 6) {
    attr.scoped = kScopeAbstractUnix | kScopeSignal;
    size = sizeof(RulesetAttr);
  }
  long ruleset = syscall(__NR_landlock_create_ruleset, &attr, size, 0);
  if (ruleset < 0) return errno;
  int fd = static_cast<int>(ruleset);
  int err = 0;
  for (const std::string& p : plan.read_only) {
    if (err == 0) err = AddPath(fd, p.c_str(), kExecute | kReadFile | kReadDir, fs);
  }
  for (const std::string& p : plan.devices) {
    if (err == 0) err = AddPath(fd, p.c_str(), kReadFile | kWriteFile | kTruncate, fs);
  }
  for (const std::string& p : plan.read_write) {
    if (err == 0) err = AddPath(fd, p.c_str(), fs, fs);
  }
  if (err == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) err = errno;
  if (err == 0 && syscall(__NR_landlock_restrict_self, fd, 0) != 0) err = errno;
  close(fd);
  return err;
}

}  // namespace codesweep
