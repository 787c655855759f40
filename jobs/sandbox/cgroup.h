// Per-run cgroups for memory and pids limits, v2 (unified) or v1 (memory + pids hierarchies).
// CgroupSupport is probed once at MakeSandbox; when no writable hierarchy can be had, Probe
// returns nullptr and runs go without (rlimits remain). Create() is thread-safe; a RunCgroup
// belongs to one Run() and is removed (all its processes killed) by its destructor. A
// CgroupSupport holds a shared flock on its parent group; Probe kills what is left in the groups
// nobody holds (their worker died) and removes them.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "jobs/sandbox/fd.h"

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
  // True when the OOM killer acted in the group since BeginRun() (or creation).
  bool OomKilled() const;
  // Peak memory since BeginRun() (or creation); 0 when the kernel cannot reset it (v2).
  int64_t PeakBytes() const;
  void Init();
  // For a group reused across runs (native tier A keeps one per launcher).
  Status SetLimits(int64_t memory_bytes, int64_t max_processes);
  void BeginRun();
  bool v2() const { return v2_; }
  const std::vector<std::string>& dirs() const { return dirs_; }

 private:
  std::string MemoryDir() const;
  std::vector<std::string> dirs_;
  std::vector<std::string> procs_files_;
  bool v2_;
  int64_t oom_base_ = 0;
  int64_t set_memory_ = -1, set_processes_ = -1;  // what SetLimits last wrote
  bool peak_valid_ = true;
};

class CgroupSupport {
 public:
  // Finds a hierarchy where this process may create groups with memory and pids limits.
  static std::unique_ptr<CgroupSupport> Probe();
  ~CgroupSupport();

  Result<std::unique_ptr<RunCgroup>> Create(int64_t memory_bytes, int64_t max_processes);
  std::string Describe() const;  // "v2 /sys/fs/cgroup/..." for --info and logs

 private:
  CgroupSupport(std::vector<std::string> parents, bool v2);
  std::vector<std::string> parents_;  // v2: one dir; v1: memory dir, pids dir
  std::vector<UniqueFd> holds_;       // each parent, with a shared flock: in use
  bool v2_;
  std::atomic<uint64_t> next_{0};
};

}  // namespace codesweep
