// bench_tasks_a: generate + check 100,000 instances of each synthesized part-A task
// (number_multiply, game24, letters, blocksworld), single-threaded, cycling through the default
// complexity levels; each instance is checked against its canonical answer. Prints seconds per
// task.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "jobs/tasks/task.h"

int main(int argc, char** argv) {
  using codesweep::TaskRegistry;
  long n = argc > 1 ? std::atol(argv[1]) : 100000;
  auto reg = TaskRegistry::Create(codesweep::DefaultDataDir());
  if (!reg.ok()) {
    std::fprintf(stderr, "bench_tasks_a: %s\n", reg.status().ToString().c_str());
    return 2;
  }
  int rc = 0;
  for (const char* name : {"number_multiply", "game24", "letters", "blocksworld"}) {
    const codesweep::Task* task = (*reg)->Find(name);
    if (task == nullptr) return 2;
    std::vector<std::string> levels = task->complexity_levels();
    long correct = 0;
    auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < n; ++i) {
      const std::string& level = levels[i % levels.size()];
      auto inst = task->Generate(level, i, 12345);
      if (!inst.ok()) return 2;
      correct += task->Check(*inst, "<<<" + inst->canonical_answer + ">>>").correct;
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%-16s %ld instances generated+checked in %.2f s (%.1f us each), %ld correct\n",
                name, n, s, 1e6 * s / n, correct);
    if (correct != n) rc = 1;
  }
  return rc;
}
