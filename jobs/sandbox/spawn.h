// Spawns one ChildPlan (fork + RunChild) and captures its output under the run's limits with
// CaptureOutput, stopping the direct child's tree at the deadline. Called by one Run() on its
// own thread; no shared state.
#pragma once

#include "jobs/sandbox/capture.h"
#include "jobs/sandbox/child.h"
#include "jobs/sandbox/executor.h"

namespace codesweep {

class RunCgroup;

struct SpawnOptions {
  // Deadline action: true = SIGTERM the direct child first (a monitor that sweeps its tree),
  // then SIGKILL the process group 300 ms later; false = SIGKILL the process group at once.
  bool soft_terminate = false;
  int status_fd_in_child = -1;  // >= 0: a pipe whose write end the child gets at this fd
};

Result<RawRun> SpawnAndCapture(ChildPlan& plan, const ExecLimits& limits, RunCgroup* cgroup,
                               const SpawnOptions& options);

}  // namespace codesweep
