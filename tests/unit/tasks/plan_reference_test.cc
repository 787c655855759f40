// Executes the reference Python programs of path_plan, boxlift and boxnet in one child
// `python3 -I` per task (each program exec()'d with fresh globals, stdout captured) and checks
// that the task's own checker accepts every output.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "jobs/tasks/factories.h"

namespace codesweep {
namespace {

constexpr const char* kDriver = R"PY(
import contextlib, io, json, sys, traceback
programs = json.load(open(sys.argv[1], encoding="utf-8"))
outputs = []
for src in programs:
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            exec(compile(src, "<reference>", "exec"), {"__name__": "__main__"})
    except BaseException:
        buf.write("\nERROR: " + traceback.format_exc())
    outputs.append(buf.getvalue())
json.dump(outputs, open(sys.argv[2], "w", encoding="utf-8"))
)PY";

// Runs every program; returns one stdout per program (empty vector on harness failure).
std::vector<std::string> RunPrograms(const std::vector<std::string>& programs,
                                     const std::string& tag) {
  const std::string dir = testing::TempDir();
  const std::string driver = dir + "plan_ref_driver_" + tag + ".py";
  const std::string in = dir + "plan_ref_in_" + tag + ".json";
  const std::string out = dir + "plan_ref_out_" + tag + ".json";
  std::ofstream(driver) << kDriver;
  std::ofstream(in) << nlohmann::json(programs).dump();
  std::remove(out.c_str());
  std::string cmd = "python3 -I " + driver + " " + in + " " + out;
  if (std::system(cmd.c_str()) != 0) return {};
  std::ifstream f(out);
  std::stringstream ss;
  ss << f.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (!j.is_array()) return {};
  return j.get<std::vector<std::string>>();
}

void ExpectReferenceSolves(const Task& task, const std::vector<Instance>& instances) {
  std::vector<std::string> programs;
  for (const auto& inst : instances) programs.push_back(task.ReferenceSolution(inst));
  std::vector<std::string> outputs = RunPrograms(programs, std::string(task.name()));
  ASSERT_EQ(outputs.size(), instances.size()) << "python harness failed";
  int failures = 0;
  for (size_t i = 0; i < instances.size(); ++i) {
    Verdict v = task.Check(instances[i], outputs[i]);
    if (!v.correct && ++failures <= 5) {
      ADD_FAILURE() << task.name() << " " << instances[i].complexity << " sample "
                    << instances[i].sample << ": " << v.reason
                    << "\noutput: " << outputs[i].substr(0, 2000);
    }
  }
  EXPECT_EQ(failures, 0);
}

std::vector<Instance> Generated(const Task& task, int seeds) {
  std::vector<Instance> out;
  for (const auto& level : task.complexity_levels()) {
    for (int s = 0; s < seeds; ++s) {
      auto inst = task.Generate(level, s, 20241003);
      EXPECT_TRUE(inst.ok());
      if (inst.ok()) out.push_back(std::move(inst).value());
    }
  }
  return out;
}

TEST(PlanReferenceTest, BoxLiftReferenceSolvesEveryLevel) {
  auto task = MakeBoxLiftTask();
  ExpectReferenceSolves(*task, Generated(*task, 50));
}

TEST(PlanReferenceTest, BoxNetReferenceSolvesEveryLevel) {
  auto task = MakeBoxNetTask();
  ExpectReferenceSolves(*task, Generated(*task, 50));
}

TEST(PlanReferenceTest, PathPlanReferenceSolvesAll140Instances) {
  auto task = MakePathPlanTask(DefaultDataDir());
  ASSERT_TRUE(task.ok()) << task.status().ToString();
  std::vector<Instance> instances;
  for (int i = 0; i < (*task)->InstanceCount(""); ++i) {
    auto inst = (*task)->Generate("", i, 0);
    ASSERT_TRUE(inst.ok());
    instances.push_back(std::move(inst).value());
  }
  ASSERT_EQ(instances.size(), 140u);
  ExpectReferenceSolves(**task, instances);
}

}  // namespace
}  // namespace codesweep
