// Spawns one ChildPlan and captures its output under the run's limits: one poll loop over the
// stdout/stderr pipes and a pidfd, a wall deadline, per-stream caps with truncation flags and a
// total-output kill. Called by one Run() on its own thread; no shared state.
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <string>

#include "jobs/sandbox/child.h"
#include "jobs/sandbox/executor.h"

namespace codesweep {

class RunCgroup;

struct RawRun {
  std::string stdout_text, stderr_text;
  bool stdout_truncated = false, stderr_truncated = false;
  bool timed_out = false;      // the wall deadline passed
  bool output_killed = false;  // total output passed kill_output_bytes
  int wait_status = 0;         // of the direct child
  rusage usage{};              // of the direct child and everything it reaped
  int64_t wall_ms = 0;
  std::string status_text;  // what the child wrote on the status pipe (bwrap JSON), if any
};

struct SpawnOptions {
  // Deadline action: true = SIGTERM the direct child first (a monitor that sweeps its tree),
  // then SIGKILL the process group 300 ms later; false = SIGKILL the process group at once.
  bool soft_terminate = false;
  int status_fd_in_child = -1;  // >= 0: a pipe whose write end the child gets at this fd
};

Result<RawRun> SpawnAndCapture(ChildPlan& plan, const ExecLimits& limits, RunCgroup* cgroup,
                               const SpawnOptions& options);

}  // namespace codesweep
