// Fresh and fork-server modes give identical results on one corpus (status, exit code, stdout,
// stderr); what a fork-server child does per run (no import of its own, a fresh random stream).
// Tier A only (fork-server mode needs it); skipped with the reason elsewhere.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "jobs/sandbox/sandbox.h"

namespace codesweep {
namespace {

const char* const kCorpus[] = {
    "print(1)\n",
    "import sympy\nprint(sympy.factor('x**2 - 1'))\n",
    "import numpy as np\nprint(np.arange(6).reshape(2, 3).sum(axis=0).tolist())\n",
    "raise ValueError('boom')\n",
    "import sys\nsys.exit(3)\n",
    "import sys\nsys.stderr.write('warn\\n')\nprint(__name__, sorted(k for k in globals() if not "
    "k.startswith('__')))\n",
    "x = [1] * 3\nprint(sum(x))\nimport "
    "itertools\nprint(len(list(itertools.permutations(range(5)))))\n",
    "import time\ntime.sleep(5)\n",
    "print('a' * 3000)\n",
    "def f(n):\n    return 1 if n < 2 else n * f(n - 1)\nprint(f(30))\n",
};

// A tier-A fork-server sandbox with nothing preloaded.
Result<std::unique_ptr<Executor>> ForkServer() {
  SandboxOptions options;
  options.tier = "A";
  options.mode = "forkserver";
  options.preload = {};
  return MakeSandbox(options, Logger::Null());
}

TEST(Modes, FreshAndForkServerAgree) {
  SandboxOptions fresh_options;
  fresh_options.tier = "A";
  auto fresh = MakeSandbox(fresh_options, Logger::Null());
  if (!fresh.ok()) GTEST_SKIP() << "tier A unavailable: " << fresh.status().ToString();
  SandboxOptions fs_options = fresh_options;
  fs_options.mode = "forkserver";
  auto server = MakeSandbox(fs_options, Logger::Null());
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  for (const char* code : kCorpus) {
    ExecRequest request{code, {}};
    request.limits.wall_ms = 4000;  // a sympy import takes ~2 s on a loaded 2-core machine
    auto a = (*fresh)->Run(request);
    auto b = (*server)->Run(request);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(ExecStatusName(a->status), ExecStatusName(b->status)) << code;
    EXPECT_EQ(a->exit_code, b->exit_code) << code;
    EXPECT_EQ(a->stdout_text, b->stdout_text) << code;
    EXPECT_EQ(a->stderr_text, b->stderr_text) << code;
  }
}

TEST(Modes, ForkServerSurvivesCodeThatKillsIt) {
  auto server = ForkServer();
  if (!server.ok()) GTEST_SKIP() << "tier A unavailable: " << server.status().ToString();
  auto killer = (*server)->Run({"import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n", {}});
  ASSERT_TRUE(killer.ok());
  EXPECT_NE(killer->status, ExecStatus::kOk);
  auto next = (*server)->Run({"print('again')\n", {}});
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->stdout_text, "again\n");
}

// A fork-server child's own set-up and epilogue (atexit handlers, tracebacks' source lines)
// import nothing per run: the server imported them once. A child pays a page fault for every
// page it writes, and an import of a module, even a built-in one, wrote ~45 pages per run
// (BENCHMARKS.md, "Python scorer verdicts on warm servers"). The code runs before the epilogue,
// so it sees what the epilogue would otherwise have imported afterwards.
TEST(Modes, ForkServerChildImportsNothingOfItsOwn) {
  auto server = ForkServer();
  if (!server.ok()) GTEST_SKIP() << "tier A unavailable: " << server.status().ToString();
  for (int i = 0; i < 2; ++i) {
    auto r = (*server)->Run(
        {"import sys\nprint([m for m in ('atexit', 'linecache') if m not in sys.modules])\n", {}});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->stdout_text, "[]\n") << r->stderr_text;
  }
}

// `random` is reseeded in every fork-server child that has it: imported by the code itself (the
// server no longer imports it when no preload does), by a preload, or by a warm server's
// prelude. No two runs draw the same numbers.
TEST(Modes, ForkServerRunsNeverShareARandomStream) {
  auto server = ForkServer();
  if (!server.ok()) GTEST_SKIP() << "tier A unavailable: " << server.status().ToString();
  const char* draw = "import random\nprint(random.getrandbits(64))\n";
  for (const char* prelude : {"", "import random\n"}) {
    std::set<std::string> seen;
    for (int i = 0; i < 3; ++i) {
      auto r = (*server)->Run({draw, {}, prelude});
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ASSERT_EQ(r->status, ExecStatus::kOk) << r->stderr_text;
      seen.insert(r->stdout_text);
    }
    EXPECT_EQ(seen.size(), 3u) << "prelude: " << prelude;
  }
}

}  // namespace
}  // namespace codesweep
