// bench_sandbox: per-snippet latency (p50/p99) and executions/s for plain `python3 -c`
// (no sandbox, the reference), fresh mode tier A and fork-server mode, on print(1) and
// `import sympy`. Usage: bench_sandbox [runs]. Prints one line per (mode, snippet).
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "jobs/sandbox/sandbox.h"

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

void Report(const char* mode, const char* snippet, std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  double total = 0;
  for (double m : ms) total += m;
  std::printf("%-10s %-14s n=%-4zu p50=%7.1f ms  p99=%7.1f ms  %6.1f exec/s\n", mode, snippet,
              ms.size(), ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 99 / 100)],
              1000.0 * ms.size() / total);
}

// The reference: fork/exec python3 -c with no isolation at all.
double PlainRun(const std::string& code) {
  auto start = Clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    int null_fd = open("/dev/null", O_WRONLY);
    dup2(null_fd, 1);
    execl("/usr/bin/python3", "python3", "-I", "-c", code.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  waitpid(pid, nullptr, 0);
  return Ms(Clock::now() - start);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace codesweep;
  int runs = argc > 1 ? std::atoi(argv[1]) : 30;
  const std::pair<const char*, std::string> snippets[] = {
      {"print(1)", "print(1)\n"}, {"import sympy", "import sympy\nprint(sympy.sqrt(8))\n"}};
  for (const auto& [name, code] : snippets) {
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) ms.push_back(PlainRun(code));
    Report("plain", name, ms);
  }
  for (const char* mode : {"fresh", "forkserver"}) {
    SandboxOptions options;
    options.tier = "A";
    options.mode = mode;
    auto executor = MakeSandbox(options, Logger::Null());
    if (!executor.ok()) {
      std::printf("%s: unavailable: %s\n", mode, executor.status().ToString().c_str());
      continue;
    }
    for (const auto& [name, code] : snippets) {
      std::vector<double> ms;
      for (int i = 0; i < runs; ++i) {
        auto start = Clock::now();
        auto r = (*executor)->Run({code, {}});
        ms.push_back(Ms(Clock::now() - start));
        if (!r.ok() || r->status != ExecStatus::kOk) std::printf("run failed\n");
      }
      Report(mode, name, ms);
    }
  }
  return 0;
}
