// The fresh executor end to end in the best tier the machine has: printing, exceptions, the wall
// deadline and the output caps. Spawns real interpreters (the sandbox has no seam below this).
#include <gtest/gtest.h>

#include "jobs/sandbox/sandbox.h"

namespace codesweep {
namespace {

class FreshExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SandboxOptions options;
    auto made = MakeSandbox(options, Logger::Null());
    if (!made.ok()) GTEST_SKIP() << "no sandbox tier on this machine: " << made.status().ToString();
    executor_ = std::move(made).value();
  }
  ExecResult Run(const std::string& code, ExecLimits limits = {}) {
    auto r = executor_->Run({code, limits});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : ExecResult{};
  }
  std::unique_ptr<Executor> executor_;
};

TEST_F(FreshExecutorTest, Prints) {
  ExecResult r = Run("print(6 * 7)\n");
  EXPECT_EQ(r.status, ExecStatus::kOk) << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "42\n");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_FALSE(r.tier.empty());
  if (r.tier == "A") {
    EXPECT_TRUE(r.backend == "native" || r.backend == "bwrap") << r.backend;
  } else {
    EXPECT_EQ(r.backend, "");
  }
}

// Each fresh run gets its own /tmp and /scratch: nothing written there is seen by the next run.
TEST_F(FreshExecutorTest, RunsDoNotShareFiles) {
  ExecResult first =
      Run("import os, tempfile\nopen('left', 'w').write('x')\n"
          "open(os.path.join(tempfile.gettempdir(), 'left'), 'w').write('x')\n");
  EXPECT_EQ(first.status, ExecStatus::kOk) << first.stderr_text;
  ExecResult second =
      Run("import os, tempfile\nprint(os.path.exists('left'), "
          "os.path.exists(os.path.join(tempfile.gettempdir(), 'left')))\n");
  EXPECT_EQ(second.stdout_text, "False False\n") << second.stderr_text;
}

TEST_F(FreshExecutorTest, ExceptionIsError) {
  ExecResult r = Run("raise ValueError('boom')\n");
  EXPECT_EQ(r.status, ExecStatus::kError);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.stderr_text.find("ValueError: boom"), std::string::npos);
}

TEST_F(FreshExecutorTest, DeadlineIsTimeout) {
  ExecLimits limits;
  limits.wall_ms = 300;
  ExecResult r = Run("import time\nprint('start', flush=True)\ntime.sleep(30)\n", limits);
  EXPECT_EQ(r.status, ExecStatus::kTimeout);
  EXPECT_LT(r.wall_ms, 300 + 500);
  EXPECT_EQ(r.stdout_text, "start\n");  // partial output is kept
}

TEST_F(FreshExecutorTest, OutputIsCappedAndFlagged) {
  ExecLimits limits;
  limits.keep_output_bytes = 1000;
  ExecResult r =
      Run("import sys\nsys.stdout.write('x' * 5000)\nsys.stderr.write('e' * 10)\n", limits);
  EXPECT_EQ(r.status, ExecStatus::kOk);
  EXPECT_EQ(r.stdout_text.size(), 1000u);
  EXPECT_TRUE(r.stdout_truncated);
  EXPECT_EQ(r.stderr_text, "eeeeeeeeee");
  EXPECT_FALSE(r.stderr_truncated);
}

TEST_F(FreshExecutorTest, EndlessOutputIsKilled) {
  ExecLimits limits;
  limits.kill_output_bytes = 1 << 20;
  ExecResult r = Run("while True:\n    print('y' * 1000)\n", limits);
  EXPECT_EQ(r.status, ExecStatus::kOutputLimit);
  EXPECT_TRUE(r.stdout_truncated || r.stdout_text.size() <= static_cast<size_t>(1 << 20));
}

TEST_F(FreshExecutorTest, EnvironmentIsClean) {
  ExecResult r =
      Run("import os\nprint(sorted(k for k in os.environ if 'KEY' in k or 'TOKEN' in k))\n");
  EXPECT_EQ(r.stdout_text, "[]\n");
}

}  // namespace
}  // namespace codesweep
