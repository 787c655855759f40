// ParseExecLimits, ExecStatusName, the status precedence (Classify), the seccomp socket rules,
// scratch removal and the stale-run reaper.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "jobs/sandbox/child.h"
#include "jobs/sandbox/profile.h"
#include "jobs/sandbox/sandbox.h"
#include "jobs/sandbox/scratch.h"
#include "jobs/sandbox/seccomp_policy.h"

namespace codesweep {
namespace {

TEST(ParseExecLimits, DefaultsAreTheIssues) {
  ExecLimits d;
  EXPECT_EQ(d.wall_ms, 10'000);
  EXPECT_EQ(d.cpu_ms, 11'000);
  EXPECT_EQ(d.memory_bytes, 1LL << 30);
  EXPECT_EQ(d.max_processes, 64);
  EXPECT_EQ(d.keep_output_bytes, 1LL << 20);
  EXPECT_EQ(d.kill_output_bytes, 16LL << 20);
}

TEST(ParseExecLimits, OverridesOnTopOfDefaults) {
  auto r = ParseExecLimits(R"({"wall_ms": 2000, "memory_bytes": 268435456})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->wall_ms, 2000);
  EXPECT_EQ(r->cpu_ms, 3000);  // follows wall
  EXPECT_EQ(r->memory_bytes, 268435456);
  EXPECT_EQ(r->max_processes, 64);
  auto explicit_cpu = ParseExecLimits(R"({"wall_ms": 2000, "cpu_ms": 500})");
  ASSERT_TRUE(explicit_cpu.ok());
  EXPECT_EQ(explicit_cpu->cpu_ms, 500);
}

TEST(ParseExecLimits, RejectsBadInput) {
  EXPECT_FALSE(ParseExecLimits("{").ok());
  EXPECT_FALSE(ParseExecLimits("[1]").ok());
  EXPECT_FALSE(ParseExecLimits(R"({"wall": 1})").ok());
  EXPECT_FALSE(ParseExecLimits(R"({"wall_ms": 0})").ok());
  EXPECT_FALSE(ParseExecLimits(R"({"wall_ms": -5})").ok());
  EXPECT_FALSE(ParseExecLimits(R"({"wall_ms": "10s"})").ok());
  EXPECT_FALSE(ParseExecLimits(R"({"wall_ms": 1.5})").ok());
  EXPECT_FALSE(ParseExecLimits(R"({"wall_ms": 18446744073709551615})").ok());
  EXPECT_TRUE(ParseExecLimits("{}").ok());
}

TEST(ExecStatusName, AllNames) {
  EXPECT_EQ(ExecStatusName(ExecStatus::kOk), "ok");
  EXPECT_EQ(ExecStatusName(ExecStatus::kError), "error");
  EXPECT_EQ(ExecStatusName(ExecStatus::kTimeout), "timeout");
  EXPECT_EQ(ExecStatusName(ExecStatus::kMemory), "memory");
  EXPECT_EQ(ExecStatusName(ExecStatus::kKilled), "killed");
  EXPECT_EQ(ExecStatusName(ExecStatus::kOutputLimit), "output_limit");
  EXPECT_EQ(ExecStatusName(ExecStatus::kRefused), "refused");
}

RawRun Exited(int code) {
  RawRun raw;
  raw.wait_status = code << 8;
  return raw;
}

TEST(Classify, Precedence) {
  ExecLimits limits;
  EXPECT_EQ(Classify(Exited(0), "B", nullptr, limits).status, ExecStatus::kOk);
  EXPECT_EQ(Classify(Exited(1), "B", nullptr, limits).status, ExecStatus::kError);
  RawRun both = Exited(1);
  both.timed_out = true;
  both.output_killed = true;
  EXPECT_EQ(Classify(both, "B", nullptr, limits).status, ExecStatus::kOutputLimit);
  both.output_killed = false;
  EXPECT_EQ(Classify(both, "B", nullptr, limits).status, ExecStatus::kTimeout);
  RawRun mem = Exited(1);
  mem.stderr_text = "Traceback (most recent call last):\n  ...\nMemoryError\n";
  EXPECT_EQ(Classify(mem, "B", nullptr, limits).status, ExecStatus::kMemory);
  RawRun killed;
  killed.wait_status = SIGSEGV;
  ExecResult k = Classify(killed, "B", nullptr, limits);
  EXPECT_EQ(k.status, ExecStatus::kKilled);
  EXPECT_EQ(k.signal, SIGSEGV);
  RawRun cpu;
  cpu.wait_status = SIGXCPU;
  EXPECT_EQ(Classify(cpu, "B", nullptr, limits).status, ExecStatus::kTimeout);
  // An exit code above 128 is an exit code in every tier (the backends report real signals).
  ExecResult a = Classify(Exited(128 + SIGINT), "A", nullptr, limits);
  EXPECT_EQ(a.status, ExecStatus::kError);
  EXPECT_EQ(a.exit_code, 130);
  EXPECT_EQ(a.signal, 0);
  EXPECT_EQ(a.tier, "A");
}

TEST(TierAPreamble, RunsMainWithoutSiteButWithItsPath) {
  std::vector<std::string> args = TierAInterpreterArgs("/usr/bin/python3", {"/x/it's"}, -1);
  ASSERT_EQ(args.size(), 5u);
  EXPECT_EQ(args[1], "-I");
  EXPECT_EQ(args[2], "-S");
  EXPECT_NE(args[4].find("path[:] = ['/x/it\\'s',]"), std::string::npos) << args[4];
  EXPECT_EQ(args[4].find("os').write"), std::string::npos);  // no status fd asked for
  EXPECT_NE(TierAInterpreterArgs("/p", {}, 6)[4].find("os').write(6,"), std::string::npos);
}

TEST(Seccomp, BuildsBpf) {
  auto bpf = BuildSeccompBpf({});
  ASSERT_TRUE(bpf.ok()) << bpf.status().ToString();
  EXPECT_GT(bpf->size(), 64u);
  EXPECT_EQ(bpf->size() % 8, 0u);
}

// socket() of any family is denied, AF_UNIX included; stream socketpairs work, datagram ones not.
TEST(Seccomp, SocketRules) {
  auto bpf = BuildSeccompBpf({});
  ASSERT_TRUE(bpf.ok()) << bpf.status().ToString();
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (InstallSeccompBpf(*bpf) != 0) _exit(10);
    int pair[2];
    if (socket(AF_UNIX, SOCK_STREAM, 0) >= 0 || errno != EPERM) _exit(11);
    if (socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0) >= 0) _exit(12);
    if (socket(AF_INET, SOCK_STREAM, 0) >= 0) _exit(13);
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) == 0) _exit(14);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) _exit(15);
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair) != 0) _exit(16);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "failed check " << WEXITSTATUS(status);
}

// A run directory is removed by the reaper only once nobody holds it.
TEST(Scratch, StaleRunDirsAreReapedWhenUnheld) {
  char parent_tmpl[] = "/tmp/cs-unit-reap-XXXXXX";
  ASSERT_NE(mkdtemp(parent_tmpl), nullptr);
  std::string parent = parent_tmpl;
  auto held = MakeRunDir(parent, "print(1)\n", -1, -1);
  auto dropped = MakeRunDir(parent, "print(2)\n", -1, -1);
  ASSERT_TRUE(held.ok() && dropped.ok());
  std::string dropped_root = dropped->root;
  dropped->hold.Reset();  // its worker died
  EXPECT_EQ(RemoveStaleRunDirs(parent, 3600), 0) << "too young to reap";
  EXPECT_EQ(RemoveStaleRunDirs(parent, 0), 1);
  struct stat st;
  EXPECT_NE(lstat(dropped_root.c_str(), &st), 0);
  EXPECT_EQ(lstat(held->root.c_str(), &st), 0);
  ASSERT_TRUE(RemoveTree(parent).ok());
}

TEST(Scratch, RemoveTreeDoesNotFollowSymlinks) {
  char host_tmpl[] = "/tmp/cs-unit-host-XXXXXX";
  ASSERT_NE(mkdtemp(host_tmpl), nullptr);
  std::string host = host_tmpl;
  std::ofstream(host + "/precious") << "keep";
  auto dir = MakeRunDir("/tmp", "print(1)\n", -1, -1);
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  ASSERT_EQ(symlink(host.c_str(), (dir->scratch + "/link").c_str()), 0);
  ASSERT_EQ(symlink((host + "/precious").c_str(), (dir->scratch + "/file").c_str()), 0);
  ASSERT_EQ(mkdir((dir->scratch + "/sub").c_str(), 0), 0);  // unreadable dir
  std::ofstream(dir->scratch + "/deep") << "x";
  ASSERT_TRUE(RemoveTree(dir->root).ok());
  struct stat st;
  EXPECT_NE(lstat(dir->root.c_str(), &st), 0);
  std::ifstream kept(host + "/precious");
  std::string text;
  kept >> text;
  EXPECT_EQ(text, "keep");
  ASSERT_TRUE(RemoveTree(host).ok());
}

// The monitor's last step when the parent's deadline SIGTERM crossed the interpreter's SIGKILL:
// the SIGTERM is still pending in the blocked set, and the exit must still report the SIGKILL.
TEST(MonitorExit, APendingBlockedSigtermDoesNotReplaceTheInterpretersStatus) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    kill(getpid(), SIGTERM);
    ExitLike(SIGKILL);  // the wait status of "killed by SIGKILL" is the signal number itself
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

TEST(MonitorExit, AnExitStatusAndOtherSignalsPassThrough) {
  for (int want : {0, 3, SIGUSR1, SIGTERM}) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      sigset_t all;
      sigfillset(&all);
      sigprocmask(SIG_BLOCK, &all, nullptr);
      ExitLike(want == 0 || want == 3 ? (want << 8) : want);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    if (want == 0 || want == 3) {
      ASSERT_TRUE(WIFEXITED(status)) << want;
      EXPECT_EQ(WEXITSTATUS(status), want);
    } else {
      ASSERT_TRUE(WIFSIGNALED(status)) << want;
      EXPECT_EQ(WTERMSIG(status), want);
    }
  }
}

}  // namespace
}  // namespace codesweep
