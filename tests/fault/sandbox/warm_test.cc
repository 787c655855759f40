// Warm servers of fork-server mode (ExecRequest::prelude, docs/sandbox.md): the prelude is loaded
// once and each run is a fork of it, so what one run changes is not seen by the next; a warm
// server killed from outside (a real SIGKILL) is replaced by the next run; a prelude that fails
// gives the result the whole program gives in fresh mode. The child a server forks ahead for its
// next run runs that one run only, and one killed while it waits is replaced. Runs back to back
// share nothing, and what a run leaves running is gone before the next one starts. Tier A only;
// skipped elsewhere.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "jobs/sandbox/sandbox.h"
#include "tests/fault/sandbox/procs.h"

namespace codesweep {
namespace {

using namespace codesweep::testing;  // NOLINT
using Clock = std::chrono::steady_clock;

// A module-level token drawn once per load, and a counter every run bumps.
constexpr const char* kPrelude =
    "import random\n"
    "TOKEN = random.getrandbits(62)\n"
    "runs = []\n";
constexpr const char* kBump = "runs.append(1)\nprint(len(runs), TOKEN)\n";

// The host's pids of a sandbox's one fork server and of the child it forked ahead for its next run
// (0 while there is none): that child is the labelled interpreter whose parent is one too.
struct ServerPids {
  int server = 0, next = 0;
};
ServerPids FindServer(const std::string& label) {
  std::vector<int> pythons = LabelledPids(label, "python3");
  ServerPids out;
  for (int pid : pythons) {
    bool has_parent = std::count(pythons.begin(), pythons.end(), ParentPid(pid)) > 0;
    (has_parent ? out.next : out.server) = pid;
  }
  return out;
}

// The server forks the next run's child right after it replies: wait for it (up to 5 s).
ServerPids WaitForNextChild(const std::string& label) {
  Clock::time_point deadline = Clock::now() + std::chrono::seconds(5);
  ServerPids pids = FindServer(label);
  while (pids.next == 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    pids = FindServer(label);
  }
  return pids;
}

class WarmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    label_ = "warm-" + std::to_string(getpid());
    SandboxOptions options;
    options.tier = "A";
    options.mode = "forkserver";
    options.preload = {};
    options.label = label_;
    auto made = MakeSandbox(options, Logger::Null());
    if (!made.ok()) GTEST_SKIP() << "tier A unavailable: " << made.status().ToString();
    executor_ = std::move(made).value();
  }
  ExecResult Run(const std::string& prelude, const std::string& code, int64_t wall_ms = 4000) {
    ExecRequest request{code, {}, prelude};
    request.limits.wall_ms = wall_ms;
    auto r = executor_->Run(request);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : ExecResult{};
  }
  std::string label_;
  std::unique_ptr<Executor> executor_;
};

// The same token each time: the prelude ran once, in one warm server. A count of 1 each time:
// every run started from the state the prelude left, not from the last run's.
TEST_F(WarmTest, EachRunIsAForkOfTheLoadedPrelude) {
  ExecResult first = Run(kPrelude, kBump);
  ASSERT_EQ(first.status, ExecStatus::kOk) << first.stderr_text;
  std::string token = first.stdout_text.substr(2);
  EXPECT_EQ(first.stdout_text.substr(0, 2), "1 ");
  for (int i = 0; i < 3; ++i) {
    ExecResult next =
        Run(kPrelude, kBump + std::string("TOKEN = 0\nimport sys\nsys.modules.clear()\n"));
    ASSERT_EQ(next.status, ExecStatus::kOk) << next.stderr_text;
    EXPECT_EQ(next.stdout_text, "1 " + token);
  }
  // A different prelude is another warm server with its own state.
  ExecResult other = Run(std::string(kPrelude) + "runs.append(0)\n", kBump);
  EXPECT_EQ(other.stdout_text.substr(0, 2), "2 ") << other.stderr_text;
}

TEST_F(WarmTest, KilledWarmServerIsRestarted) {
  ExecResult first = Run(kPrelude, kBump);
  ASSERT_EQ(first.status, ExecStatus::kOk) << first.stderr_text;
  // The only server left between runs is the warm one (the idle plain one became it).
  ServerPids before = WaitForNextChild(label_);
  ASSERT_NE(before.server, 0);
  ASSERT_EQ(LabelledPids(label_, "python3").size(), 2u) << "a server and its next run's child";
  ASSERT_EQ(kill(before.server, SIGKILL), 0);
  // Gone with its bubblewrap (which holds the label too): nothing of it is left to answer.
  Clock::time_point deadline = Clock::now() + std::chrono::seconds(5);
  while (!LabelledPids(label_).empty() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(LabelledPids(label_).empty());
  ExecResult next = Run(kPrelude, kBump);
  ASSERT_EQ(next.status, ExecStatus::kOk) << next.stderr_text;
  EXPECT_EQ(next.stdout_text.substr(0, 2), "1 ");
  EXPECT_NE(next.stdout_text, first.stdout_text) << "the prelude was not loaded again";
  ServerPids now = WaitForNextChild(label_);
  ASSERT_NE(now.server, 0);
  EXPECT_NE(now.server, before.server);

  // A run that kills its own warm server fails; the next run has a new one.
  ExecResult killer = Run(kPrelude, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n");
  EXPECT_NE(killer.status, ExecStatus::kOk);
  ExecResult again = Run(kPrelude, kBump);
  ASSERT_EQ(again.status, ExecStatus::kOk) << again.stderr_text;
  EXPECT_EQ(again.stdout_text.substr(0, 2), "1 ");
  EXPECT_NE(again.stdout_text, next.stdout_text) << "the prelude was not loaded again";
}

// The child a server forks ahead is the next run's own process and runs that run only: each run
// is a process of its own, forked after the last one ended, in plain and warm servers alike.
TEST_F(WarmTest, EachRunHasTheChildForkedAfterTheLastRun) {
  for (const std::string prelude : {"", kPrelude}) {
    const std::string code = prelude.empty() ? "import os\nprint(os.getpid())\n"
                                             : "import os\nprint(os.getpid(), len(runs))\n";
    ExecResult first = Run(prelude, code);
    ASSERT_EQ(first.status, ExecStatus::kOk) << first.stderr_text;
    std::set<std::string> seen = {first.stdout_text};
    for (int i = 0; i < 3; ++i) {
      ServerPids ahead = WaitForNextChild(label_);
      ASSERT_NE(ahead.next, 0) << "no child forked ahead";
      int inner = InnermostPid(ahead.next);
      ExecResult r = Run(prelude, code);
      ASSERT_EQ(r.status, ExecStatus::kOk) << r.stderr_text;
      EXPECT_EQ(r.stdout_text.substr(0, r.stdout_text.find_first_of(" \n")), std::to_string(inner))
          << "the run was not the child forked ahead for it";
      if (!prelude.empty()) {
        EXPECT_EQ(r.stdout_text.substr(r.stdout_text.find(' ')), " 0\n");
      }
      EXPECT_TRUE(seen.insert(r.stdout_text).second) << "a child ran twice: " << r.stdout_text;
      EXPECT_FALSE(Alive(ahead.next)) << "the run's child outlived its run";
      ServerPids after = WaitForNextChild(label_);
      EXPECT_EQ(after.server, ahead.server);
      EXPECT_NE(after.next, ahead.next);
    }
  }
}

// A child forked ahead that is killed while it waits (a real SIGKILL from outside, just before
// the run or long enough before it to be gone) is replaced: the run still runs, on the same server.
TEST_F(WarmTest, KilledChildForkedAheadIsReplaced) {
  for (const std::string prelude : {"", kPrelude}) {
    const std::string code = prelude.empty() ? "print('ran')\n" : kBump;
    ExecResult first = Run(prelude, code);
    ASSERT_EQ(first.status, ExecStatus::kOk) << first.stderr_text;
    for (bool wait_for_death : {false, true}) {
      ServerPids ahead = WaitForNextChild(label_);
      ASSERT_NE(ahead.next, 0) << "no child forked ahead";
      ASSERT_EQ(kill(ahead.next, SIGKILL), 0);
      Clock::time_point deadline = Clock::now() + std::chrono::seconds(5);
      while (wait_for_death && Alive(ahead.next) && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      ExecResult r = Run(prelude, code);
      ASSERT_EQ(r.status, ExecStatus::kOk) << r.stderr_text;
      EXPECT_EQ(r.stdout_text, first.stdout_text);
      ServerPids after = WaitForNextChild(label_);
      EXPECT_EQ(after.server, ahead.server) << "the server was replaced";
      EXPECT_NE(after.next, 0);
    }
  }
}

// Runs back to back (each asked for as soon as the last one replied): each is a process of its
// own that sees nothing another run set, in plain and warm servers alike.
TEST_F(WarmTest, RunsBackToBackShareNothing) {
  const std::string code =
      "import builtins, os, sys\n"
      "print(getattr(builtins, 'cs_mark', None), 'cs_mark' in sys.modules, os.getpid())\n"
      "builtins.cs_mark = 1\nsys.modules['cs_mark'] = sys\n";
  for (const std::string prelude : {"", kPrelude}) {
    std::set<std::string> pids;
    for (int i = 0; i < 6; ++i) {
      ExecResult r = Run(prelude, code);
      ASSERT_EQ(r.status, ExecStatus::kOk) << r.stderr_text;
      EXPECT_EQ(r.stdout_text.substr(0, 11), "None False ") << r.stdout_text;
      EXPECT_TRUE(pids.insert(r.stdout_text.substr(11)).second) << "a child ran twice";
    }
  }
}

// A run that leaves processes behind (a direct child, a setsid'd grandchild whose parent has
// ended, a chain that forks and ends by turns): the sweep after it kills them all before the
// reply, so the next run, asked for right after, sees no process in its pid namespace but the
// namespace's init, its server and itself, in plain and warm servers alike.
TEST_F(WarmTest, SweepKillsWhatARunLeaves) {
  const std::string others =
      "import os\n"
      "def others():\n"
      "    me = (1, os.getpid(), os.getppid())\n"
      "    return sorted(int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) not in "
      "me)\n";
  const std::string leave =
      "import time\n"
      "if os.fork() == 0:\n    time.sleep(60)\n    os._exit(0)\n"
      "if os.fork() == 0:\n    os.setsid()\n"
      "    if os.fork() == 0:\n        time.sleep(60)\n"
      "    os._exit(0)\n"
      "if os.fork() == 0:\n    os.setsid()\n"
      "    while True:\n        if os.fork() != 0:\n"
      "            os._exit(0)\n        time.sleep(0.005)\n"
      "time.sleep(0.2)\n"
      "print(len(others()), flush=True)\n";
  for (const std::string prelude : {"", kPrelude}) {
    for (int i = 0; i < 2; ++i) {
      ExecResult leaves = Run(prelude, others + leave);
      ExecResult next = Run(prelude, others + "print(others())\n");
      ASSERT_EQ(leaves.status, ExecStatus::kOk) << leaves.stderr_text;
      EXPECT_GE(std::atoi(leaves.stdout_text.c_str()), 3) << "the run left less than it meant to";
      ASSERT_EQ(next.status, ExecStatus::kOk) << next.stderr_text;
      EXPECT_EQ(next.stdout_text, "[]\n") << "left by the last run";
    }
    // And from the host: the server and its next run's child, nothing else.
    ServerPids after = WaitForNextChild(label_);
    EXPECT_NE(after.next, 0);
    EXPECT_EQ(LabelledPids(label_, "python3").size(), 2u);
  }
}

// What fresh mode gives for the whole program (prelude then code), fork-server mode gives too:
// status, exit code and the error's last line, whether the prelude or the code fails.
TEST_F(WarmTest, FailuresAreThoseOfTheWholeProgram) {
  SandboxOptions fresh_options;
  fresh_options.tier = "A";
  fresh_options.preload = {};
  auto fresh = MakeSandbox(fresh_options, Logger::Null());
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  struct Case {
    const char* prelude;
    const char* code;
  } cases[] = {
      {"x = 1\n", "print(x + 1)\n"},
      {"raise ValueError('at load')\n", "print(1)\n"},
      {"import sys\nsys.exit(3)\n", "print(1)\n"},
      {"import sys\nprint('bye')\nsys.exit(0)\n", "print(1)\n"},
      {"def f(:\n", "print(1)\n"},
      {"import time\ntime.sleep(30)\n", "print(1)\n"},
      {"while True: pass\n", "print(1)\n"},
      {"x = 1\n", "raise KeyError('in run')\n"},
      {"x = 1\n", "import time\ntime.sleep(30)\n"},
      {"import os\n", "os._exit(7)\n"},
      {"import os, signal\n", "os.kill(os.getpid(), signal.SIGKILL)\n"},
      {"x = 1\n", "print('a' * (2 << 20))\n"},
  };
  auto last_line = [](std::string s) {
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s.substr(s.rfind('\n') == std::string::npos ? 0 : s.rfind('\n') + 1);
  };
  // Cases that share a prelude run on the warm server the first of them loaded.
  for (const Case& c : cases) {
    ExecRequest request{c.code, {}, c.prelude};
    request.limits.wall_ms = 800;
    request.limits.kill_output_bytes = 1 << 20;
    auto a = (*fresh)->Run(request);
    auto b = executor_->Run(request);
    ASSERT_TRUE(a.ok() && b.ok()) << c.prelude << c.code;
    std::string what = std::string(c.prelude) + "|" + c.code;
    EXPECT_EQ(ExecStatusName(a->status), ExecStatusName(b->status)) << what;
    EXPECT_EQ(a->exit_code, b->exit_code) << what;
    EXPECT_EQ(a->signal, b->signal) << what;
    EXPECT_EQ(last_line(a->stderr_text), last_line(b->stderr_text)) << what;
    if (a->status == ExecStatus::kOk) {
      EXPECT_EQ(a->stdout_text, b->stdout_text) << what;
    }
  }
  // And the warm server still serves afterwards.
  ExecResult after = Run(kPrelude, kBump);
  EXPECT_EQ(after.stdout_text.substr(0, 2), "1 ") << after.stderr_text;
}

}  // namespace
}  // namespace codesweep
