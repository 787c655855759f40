#include "base/trace.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace codesweep {

namespace {
int TraceFd() {
  static const int fd = [] {
    const char* path = std::getenv("CODESWEEP_DISPATCH_TRACE");
    if (path == nullptr || *path == 0) return -1;
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }();
  return fd;
}
}  // namespace

bool DispatchTraceOn() { return TraceFd() >= 0; }

void TraceEvent(const char* event, int64_t a, int64_t b) {
  const int fd = TraceFd();
  if (fd < 0) return;
  const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  static const int pid = static_cast<int>(getpid());  // the trace is not kept across a fork
  char line[160];
  const int n =
      std::snprintf(line, sizeof line, "%lld %d %s %lld %lld\n", static_cast<long long>(us), pid,
                    event, static_cast<long long>(a), static_cast<long long>(b));
  if (n <= 0) return;
  const size_t len =
      static_cast<size_t>(n) < sizeof line ? static_cast<size_t>(n) : sizeof line - 1;
  (void)!write(fd, line, len);  // one write: lines of several processes never interleave
}

}  // namespace codesweep
