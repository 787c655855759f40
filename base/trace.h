// Dispatch trace: benchmark instrumentation of the path a job takes from a client's SUBMIT to
// the start of its run in a worker (tools/bench/peers, METHOD.md). When the environment
// variable CODESWEEP_DISPATCH_TRACE names a file, every process that calls TraceEvent appends one
// line per event to it: "<unix time in microseconds> <pid> <event> <a> <b>", each line one
// write(2) on an O_APPEND descriptor, so the coordinator, the workers and `codesweep submit` can
// share one file. Unset (the default): one branch per call, nothing written.
#pragma once

#include <cstdint>

namespace codesweep {

// True when CODESWEEP_DISPATCH_TRACE was set when the process first asked.
bool DispatchTraceOn();
// Appends "<wall us> <pid> <event> <a> <b>" when the trace is on. `event` is a word.
void TraceEvent(const char* event, int64_t a = 0, int64_t b = 0);

}  // namespace codesweep
