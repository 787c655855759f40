// bench_tasks_b: generate + check 100,000 instances of each planning task (path_plan, boxlift,
// boxnet) on one thread, checking each instance's canonical answer, and print the seconds.
// Usage: bench_tasks_b [instances_per_task]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include "jobs/tasks/factories.h"

namespace codesweep {
namespace {

int RunOne(const Task& task, const std::string& level, int64_t n) {
  auto t0 = std::chrono::steady_clock::now();
  std::clock_t c0 = std::clock();
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    auto inst = task.Generate(level, i, 7);
    if (!inst.ok()) {
      std::fprintf(stderr, "%s: %s\n", std::string(task.name()).c_str(),
                   inst.status().ToString().c_str());
      return 1;
    }
    correct += task.Check(*inst, "<<<" + inst->canonical_answer + ">>>").correct;
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double cpu = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
  std::printf(
      "%-10s %-6s %8lld instances  wall %7.3f s  cpu %7.3f s  (%.1f us cpu each, %lld correct)\n",
      std::string(task.name()).c_str(), level.empty() ? "-" : level.c_str(),
      static_cast<long long>(n), s, cpu, 1e6 * cpu / static_cast<double>(n),
      static_cast<long long>(correct));
  return correct == n ? 0 : 1;
}

int Main(int argc, char** argv) {
  int64_t n = argc > 1 ? std::atoll(argv[1]) : 100000;
  auto path_plan = MakePathPlanTask(DefaultDataDir());
  if (!path_plan.ok()) {
    std::fprintf(stderr, "%s\n", path_plan.status().ToString().c_str());
    return 1;
  }
  int rc = RunOne(**path_plan, "", n);
  rc |= RunOne(*MakeBoxLiftTask(), "25_6", n);
  rc |= RunOne(*MakeBoxNetTask(), "4x8", n);
  return rc;
}

}  // namespace
}  // namespace codesweep

int main(int argc, char** argv) { return codesweep::Main(argc, argv); }
