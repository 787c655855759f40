// Per-run cgroups for memory and pids limits, v2 (unified) or v1 (memory + pids hierarchies).
// CgroupSupport is probed once at MakeSandbox; when no writable hierarchy can be had, Probe
// returns nullptr and runs go without (rlimits remain). Create() is thread-safe; a RunCgroup
// belongs to one Run() and is removed (all its processes killed) by its destructor.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "schema/status.h"

namespace codesweep {

class RunCgroup {
 public:
  RunCgroup(std::vector<std::string> dirs, bool v2) : dirs_(std::move(dirs)), v2_(v2) {}
  RunCgroup(const RunCgroup&) = delete;
  RunCgroup& operator=(const RunCgroup&) = delete;
  ~RunCgroup();

  // The cgroup.procs files a child writes "0" into to join (between fork and exec).
  const std::vector<std::string>& procs_files() const { return procs_files_; }
  // SIGKILLs every process in the group, waiting (bounded) until it is empty.
  void KillAll();
  bool OomKilled() const;
  int64_t PeakBytes() const;
  void Init();

 private:
  std::string MemoryDir() const;
  std::vector<std::string> dirs_;
  std::vector<std::string> procs_files_;
  bool v2_;
};

class CgroupSupport {
 public:
  // Finds a hierarchy where this process may create groups with memory and pids limits.
  static std::unique_ptr<CgroupSupport> Probe();
  ~CgroupSupport();

  Result<std::unique_ptr<RunCgroup>> Create(int64_t memory_bytes, int64_t max_processes);
  std::string Describe() const;  // "v2 /sys/fs/cgroup/..." for --info and logs

 private:
  CgroupSupport(std::vector<std::string> parents, bool v2)
      : parents_(std::move(parents)), v2_(v2) {}
  std::vector<std::string> parents_;  // v2: one dir; v1: memory dir, pids dir
  bool v2_;
  std::atomic<uint64_t> next_{0};
};

}  // namespace codesweep
