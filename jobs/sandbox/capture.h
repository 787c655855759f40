// The sandbox's one output-capture loop, used by every executor: reads a run's stdout and stderr
// pipes while it runs, keeping keep_output_bytes per stream (the rest counted, dropped and
// flagged), and stops the run at the wall deadline or once kill_output_bytes were written in
// total. The executor says through a RunControl how to tell that its run is over and how to stop
// it. One call per Run(), on that Run()'s thread; no shared state.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "jobs/sandbox/executor.h"
#include "jobs/sandbox/fd.h"

namespace codesweep {

// What happened to one run, before classification (Classify, profile.h).
struct RawRun {
  std::string stdout_text, stderr_text;
  bool stdout_truncated = false, stderr_truncated = false;
  bool timed_out = false;      // the wall deadline passed
  bool output_killed = false;  // total output passed kill_output_bytes
  int wait_status = 0;         // of the interpreter (as waitpid reports it)
  rusage usage{};              // of the interpreter and everything it reaped
  int64_t wall_ms = 0;
  std::string status_text;  // what the child wrote on the status pipe (bwrap JSON), if any
};

enum class StopReason { kDeadline, kOutput };

// How CaptureOutput learns that a run is over and how it ends one. Implemented per executor.
class RunControl {
 public:
  virtual ~RunControl() = default;
  // An fd that becomes readable when the run may be over (a pidfd, the fork server's socket);
  // -1: Ended() is asked every 5 ms.
  virtual int wake_fd() const = 0;
  // True once nothing of the run is left to wait for. Never blocks. Asked when wake_fd() is
  // readable, every 5 ms without one, and each time round while the run is being stopped.
  virtual bool Ended() = 0;
  // Ends the run: first = true at the deadline or the output cap, then again every 100 ms
  // until Ended().
  virtual void Stop(StopReason why, bool first) = 0;
};

// Captures `out` and `err` (read ends; consumed) into raw's text, truncation, timed_out and
// output_killed fields until control.Ended() and both pipes are at EOF, or 200 ms after
// Ended(); sets raw.wall_ms from `start`.
void CaptureOutput(UniqueFd out, UniqueFd err, const ExecLimits& limits,
                   std::chrono::steady_clock::time_point start, RunControl& control, RawRun& raw);

}  // namespace codesweep
