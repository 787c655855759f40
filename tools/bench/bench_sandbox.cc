// bench_sandbox: per-snippet latency (p50/p99) and executions/s, side by side in one run, for
// plain `python3 -I -c` and `python3 -I -S -c` (no sandbox: the references), fresh mode tier A
// with the native backend and with bubblewrap, and fork-server mode, on print(1) and
// `import sympy`. The modes are interleaved (one run of each in turn) so that load changes hit
// them alike. Usage: bench_sandbox [runs] [only] (only: run just the modes whose name contains
// it, e.g. forkserver). Prints one line per (mode, snippet).
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "jobs/sandbox/sandbox.h"

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

void Report(const std::string& mode, const char* snippet, std::vector<double> ms) {
  if (ms.empty()) return;
  std::sort(ms.begin(), ms.end());
  double total = 0;
  for (double m : ms) total += m;
  std::printf("%-16s %-14s n=%-4zu p50=%7.1f ms  p99=%7.1f ms  %6.1f exec/s\n", mode.c_str(),
              snippet, ms.size(), ms[ms.size() / 2],
              ms[std::min(ms.size() - 1, ms.size() * 99 / 100)], 1000.0 * ms.size() / total);
}

// The references: fork/exec python3 with no isolation at all.
double PlainRun(const std::string& code, bool no_site) {
  auto start = Clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    int null_fd = open("/dev/null", O_WRONLY);
    dup2(null_fd, 1);
    if (no_site) {
      execl("/usr/bin/python3", "python3", "-I", "-S", "-c", code.c_str(),
            static_cast<char*>(nullptr));
    } else {
      execl("/usr/bin/python3", "python3", "-I", "-c", code.c_str(), static_cast<char*>(nullptr));
    }
    _exit(127);
  }
  waitpid(pid, nullptr, 0);
  return Ms(Clock::now() - start);
}

struct Mode {
  std::string name;
  std::function<double(const std::string&)> run;  // ms for one execution; < 0 = failed
  bool print_only = false;                        // python -S cannot import site-packages (sympy)
};

std::function<double(const std::string&)> SandboxRun(codesweep::Executor* executor) {
  return [executor](const std::string& code) {
    auto start = Clock::now();
    auto r = executor->Run({code, {}});
    double ms = Ms(Clock::now() - start);
    return r.ok() && r->status == codesweep::ExecStatus::kOk ? ms : -1.0;
  };
}

}  // namespace

int main(int argc, char** argv) {
  using namespace codesweep;
  int runs = argc > 1 ? std::atoi(argv[1]) : 30;
  std::vector<Mode> modes = {
      {"plain", [](const std::string& c) { return PlainRun(c, false); }},
      {"plain -S", [](const std::string& c) { return PlainRun(c, true); }, true},
  };
  std::vector<std::unique_ptr<Executor>> executors;
  const std::pair<const char*, const char*> sandboxed[] = {
      {"fresh A native", "native"}, {"fresh A bwrap", "bwrap"}, {"forkserver", ""}};
  const std::string only = argc > 2 ? argv[2] : "";
  if (!only.empty()) {
    std::erase_if(modes, [&](const Mode& m) { return m.name.find(only) == std::string::npos; });
  }
  for (const auto& [name, backend] : sandboxed) {
    if (std::string(name).find(only) == std::string::npos) continue;
    SandboxOptions options;
    options.tier = "A";
    options.mode = *backend ? "fresh" : "forkserver";
    if (*backend) options.backend = backend;
    auto executor = MakeSandbox(options, Logger::Null());
    if (!executor.ok()) {
      std::printf("%s: unavailable: %s\n", name, executor.status().ToString().c_str());
      continue;
    }
    executors.push_back(std::move(executor).value());
    modes.push_back({name, SandboxRun(executors.back().get())});
  }
  const std::pair<const char*, std::string> snippets[] = {
      {"print(1)", "print(1)\n"}, {"import sympy", "import sympy\nprint(sympy.sqrt(8))\n"}};
  for (const auto& [name, code] : snippets) {
    std::vector<std::vector<double>> ms(modes.size());
    for (int i = 0; i < runs; ++i) {
      for (size_t m = 0; m < modes.size(); ++m) {
        if (modes[m].print_only && code != snippets[0].second) continue;
        double t = modes[m].run(code);
        if (t < 0) {
          std::printf("%s: run failed\n", modes[m].name.c_str());
          continue;
        }
        ms[m].push_back(t);
      }
    }
    for (size_t m = 0; m < modes.size(); ++m) Report(modes[m].name, name, ms[m]);
  }
  return 0;
}
