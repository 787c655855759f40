// Executor: runs one piece of model-written Python and reports what happened. The engine and
// methods see only this interface; jobs/sandbox is the only code that spawns processes.
// Implementations are thread-safe: many slots call Run() concurrently.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "schema/types.h"

namespace codesweep {

struct ExecLimits {
  int64_t wall_ms = 10'000;          // wall-clock deadline
  int64_t cpu_ms = 11'000;           // CPU time (RLIMIT_CPU backstop)
  int64_t memory_bytes = 1LL << 30;  // cgroup memory where available, else address space
  int64_t max_processes = 64;
  int64_t max_file_bytes = 16LL << 20;
  int64_t tmp_bytes = 64LL << 20;
  int64_t keep_output_bytes = 1LL << 20;   // kept per stream; the rest is dropped (truncated flag)
  int64_t kill_output_bytes = 16LL << 20;  // total output past which the run is killed
};

enum class ExecStatus { kOk, kError, kTimeout, kMemory, kKilled, kOutputLimit, kRefused };
std::string_view ExecStatusName(ExecStatus s);  // "ok", "error", "timeout", ...

struct ExecRequest {
  std::string code;
  ExecLimits limits;
  // Optional code that `code` runs after, in the same module globals (a Python scorer's file:
  // its imports and definitions). Fresh mode runs prelude + code as one program. Fork-server mode
  // loads each distinct prelude once into a warm server of its own and runs every `code` in a
  // fork of it, so no run sees what another changed; the prelude's output then appears only in
  // the result of a run whose prelude failed, which reports that failure (status, exit code,
  // output) as the whole program's would. The two share max_file_bytes and wall_ms.
  std::string prelude;
};

// The one program a request stands for: the prelude (ended by a newline) then the code.
inline std::string WholeProgram(const ExecRequest& request) {
  if (request.prelude.empty()) return request.code;
  std::string out = request.prelude;
  if (out.back() != '\n') out += '\n';
  return out + request.code;
}

// What the sandbox reports about one run: the measurements every record keeps (ExecReport,
// schema/types.h) and the status and tier-A backend.
struct ExecResult : ExecReport {
  ExecStatus status = ExecStatus::kOk;
  std::string backend;  // tier A: "native" (own namespaces) or "bwrap"; else ""
};

class Executor {
 public:
  virtual ~Executor() = default;
  // Runs the code to completion or to a limit. Infrastructure failures (cannot spawn) come back as
  // a non-OK Status; everything the code itself does is an ExecResult.
  virtual Result<ExecResult> Run(const ExecRequest& request) = 0;
};

}  // namespace codesweep
