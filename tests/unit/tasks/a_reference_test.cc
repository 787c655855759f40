// Reference solutions executed: every synthesized task of part A x every default level x 50
// seeds runs its generic Python program and the checker must accept the output. Dataset tasks:
// the generic solvers (web_of_lies, navigate) must be right on all items; oracles are run too.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/unit/tasks/a_test_util.h"

namespace codesweep::testing_a {

const TaskRegistry& Registry() {
  static const TaskRegistry* reg = [] {
    auto r = TaskRegistry::Create(DefaultDataDir());
    if (!r.ok()) {
      std::fprintf(stderr, "registry: %s\n", r.status().ToString().c_str());
      std::abort();
    }
    return std::move(r).value().release();
  }();
  return *reg;
}

const Task& TaskNamed(const std::string& name) {
  const Task* t = Registry().Find(name);
  if (t == nullptr) {
    std::fprintf(stderr, "no task %s\n", name.c_str());
    std::abort();
  }
  return *t;
}

namespace {
constexpr char kDriver[] = R"PY(
import contextlib, io, json, sys
progs = json.load(open(sys.argv[1]))
outs = []
for p in progs:
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            exec(compile(p, "<reference>", "exec"), {"__name__": "__main__"})
    except BaseException as e:
        buf.write("\nPYTHON ERROR: %r" % (e,))
    outs.append(buf.getvalue())
json.dump(outs, open(sys.argv[2], "w"))
)PY";
}  // namespace

std::vector<std::string> RunPythonPrograms(const std::vector<std::string>& programs) {
  char dir_template[] = "/tmp/cs_tasks_a_XXXXXX";
  char* dir = mkdtemp(dir_template);
  if (dir == nullptr) return {};
  std::string d(dir);
  std::ofstream(d + "/driver.py") << kDriver;
  std::ofstream(d + "/in.json") << nlohmann::json(programs).dump();
  std::string cmd = "python3 -I " + d + "/driver.py " + d + "/in.json " + d + "/out.json";
  int rc = std::system(cmd.c_str());
  std::vector<std::string> outs;
  std::ifstream in(d + "/out.json");
  if (rc == 0 && in) {
    std::stringstream ss;
    ss << in.rdbuf();
    auto j = nlohmann::json::parse(ss.str(), nullptr, false);
    if (j.is_array()) outs = j.get<std::vector<std::string>>();
  }
  std::remove((d + "/driver.py").c_str());
  std::remove((d + "/in.json").c_str());
  std::remove((d + "/out.json").c_str());
  rmdir(d.c_str());
  return outs;
}

namespace {

// Generates level x seeds instances, runs the (deduplicated) programs, checks every output.
void RunSynthesized(const std::string& task_name, int seeds) {
  const Task& task = TaskNamed(task_name);
  std::vector<Instance> instances;
  std::map<std::string, size_t> program_index;
  std::vector<std::string> programs;
  std::vector<size_t> which;
  for (const std::string& level : task.complexity_levels()) {
    for (int s = 0; s < seeds; ++s) {
      auto inst = task.Generate(level, s, 1000 + s);
      ASSERT_TRUE(inst.ok()) << level << ": " << inst.status().ToString();
      std::string prog = task.ReferenceSolution(*inst);
      auto [it, fresh] = program_index.emplace(prog, programs.size());
      if (fresh) programs.push_back(prog);
      which.push_back(it->second);
      instances.push_back(std::move(inst).value());
    }
  }
  std::vector<std::string> outs = RunPythonPrograms(programs);
  ASSERT_EQ(outs.size(), programs.size()) << "python3 did not run";
  int failures = 0;
  for (size_t i = 0; i < instances.size(); ++i) {
    Verdict v = task.Check(instances[i], outs[which[i]]);
    if (!v.correct && ++failures <= 5) {
      ADD_FAILURE() << task_name << " level " << instances[i].complexity << " sample "
                    << instances[i].sample << ": " << v.reason
                    << "\noutput: " << outs[which[i]].substr(0, 400);
    }
  }
  EXPECT_EQ(failures, 0);
}

TEST(ReferenceA, NumberMultiply) { RunSynthesized("number_multiply", 50); }
TEST(ReferenceA, Letters) { RunSynthesized("letters", 50); }
TEST(ReferenceA, Blocksworld) { RunSynthesized("blocksworld", 50); }
TEST(ReferenceA, Game24) { RunSynthesized("game24", 50); }

// The generic solvers must be right on every dataset item; the oracles must at least print the
// gold answer in a form the checker accepts (they are not solvers, see docs/tasks.md).
void RunDataset(const std::string& task_name, bool generic) {
  const Task& task = TaskNamed(task_name);
  std::vector<Instance> instances;
  std::vector<std::string> programs;
  std::vector<std::string> levels = task.complexity_levels();
  if (levels.empty()) levels.push_back("");
  for (const std::string& level : levels) {
    for (int64_t i = 0; i < task.InstanceCount(level); ++i) {
      auto inst = task.Generate(level, i, 7);
      ASSERT_TRUE(inst.ok());
      programs.push_back(task.ReferenceSolution(*inst));
      instances.push_back(std::move(inst).value());
    }
  }
  std::vector<std::string> outs = RunPythonPrograms(programs);
  ASSERT_EQ(outs.size(), programs.size());
  int failures = 0;
  for (size_t i = 0; i < instances.size(); ++i) {
    bool is_oracle = programs[i].rfind("# ORACLE", 0) == 0;
    EXPECT_EQ(is_oracle, !generic) << task_name;
    Verdict v = task.Check(instances[i], outs[i]);
    if (!v.correct && ++failures <= 5) {
      ADD_FAILURE() << task_name << " item " << instances[i].data.value("id", "") << ": "
                    << v.reason << "\noutput: " << outs[i].substr(0, 300);
    }
  }
  EXPECT_EQ(failures, 0);
}

TEST(ReferenceA, WebOfLiesGenericSolverAll250) { RunDataset("bbh_web_of_lies", true); }
TEST(ReferenceA, NavigateGenericSolverAll250) { RunDataset("bbh_navigate", true); }
TEST(ReferenceA, OraclesPrintCheckableAnswers) {
  RunDataset("bbh_date_understanding", false);
  RunDataset("bbh_logical_deduction_seven_objects", false);
  RunDataset("gsm_hard", false);
  RunDataset("math_geometry", false);
  RunDataset("math_counting_and_probability", false);
}

}  // namespace
}  // namespace codesweep::testing_a
