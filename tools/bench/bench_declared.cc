// Declared tasks at scale (issue 15): a 1,000,000-row JSON-lines dataset is checked and indexed
// (DeclaredTask::Create), then instances are generated and judged. Prints the median of 3 runs of
// each step and the process's peak resident memory.
//   build/bench/bench_declared [rows]
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "jobs/tasks/declared/declared_task.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

long PeakRssMb() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace codesweep;
  size_t rows = argc > 1 ? std::stoul(argv[1]) : 1'000'000;
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("cs_bench_declared_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "rows.jsonl").string();
  {
    std::ofstream out(path);
    std::mt19937_64 rng(1);
    for (size_t i = 0; i < rows; ++i) {
      uint64_t a = rng() % 100000, b = rng() % 100000;
      out << "{\"id\": \"r" << i << "\", \"question\": \"What is " << a << " + " << b
          << "? Show your work, then give the answer.\", \"answer\": " << a + b << ", \"level\": \""
          << (i % 3) << "\"}\n";
    }
  }
  std::printf("dataset: %zu rows, %.1f MB\n", rows,
              static_cast<double>(std::filesystem::file_size(path)) / 1e6);
  nlohmann::json table = {{"name", "bench"},
                          {"dataset", path},
                          {"id", "{id}"},
                          {"prompt", "{question}"},
                          {"target", "{answer}"},
                          {"complexity", "{level}"},
                          {"answer", {"triple_angle", "last_number"}},
                          {"scorer", {{"kind", "numeric"}, {"rel_tol", 1e-6}}}};
  std::vector<double> create_s;
  std::unique_ptr<DeclaredTask> task;
  for (int run = 0; run < 3; ++run) {
    task.reset();
    auto t0 = Clock::now();
    auto spec = ParseDeclaredTask(table, "");
    auto made = DeclaredTask::Create(std::move(spec).value());
    auto t1 = Clock::now();
    if (!made.ok()) {
      std::fprintf(stderr, "%s\n", made.status().ToString().c_str());
      return 1;
    }
    task = std::move(made).value();
    create_s.push_back(Seconds(t0, t1));
  }
  std::printf("validate + index (DeclaredTask::Create): median %.2f s of 3 (%.2f us/row)\n",
              Median(create_s), Median(create_s) / static_cast<double>(rows) * 1e6);
  constexpr int kInstances = 20000;
  std::vector<double> gen_us, check_us;
  for (int run = 0; run < 3; ++run) {
    std::vector<Instance> instances;
    auto t0 = Clock::now();
    for (int i = 0; i < kInstances; ++i) {
      instances.push_back(task->Generate(std::to_string(i % 3), i * 7919, 1).value());
    }
    auto t1 = Clock::now();
    int correct = 0;
    for (const Instance& inst : instances) {
      std::string reply =
          "Adding the two numbers step by step gives the sum.\n<<<" + inst.canonical_answer + ">>>";
      correct += task->Check(inst, reply).correct;
    }
    auto t2 = Clock::now();
    if (correct != kInstances) std::fprintf(stderr, "only %d correct\n", correct);
    gen_us.push_back(Seconds(t0, t1) / kInstances * 1e6);
    check_us.push_back(Seconds(t1, t2) / kInstances * 1e6);
  }
  std::printf("Generate (row read back from the file): median %.1f us per instance\n",
              Median(gen_us));
  std::printf("Check (extract + numeric scorer): median %.2f us per verdict\n", Median(check_us));
  std::printf("peak resident memory: %ld MB\n", PeakRssMb());
  std::filesystem::remove_all(dir);
  return 0;
}
