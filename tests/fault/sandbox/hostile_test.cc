// Hostile model code against the sandbox, in each tier the machine supports (A with the native
// backend, A with bubblewrap, B, C). Each case
// asserts the status, wall <= timeout + 0.5 s, that this process survives, that no process of
// the run is left (found by the CODESWEEP_SANDBOX label in /proc/*/environ) and that no file is
// left in the scratch root. Tiers the kernel lacks are skipped with the reason.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>
#include <sstream>

#include "jobs/sandbox/sandbox.h"
#include "jobs/sandbox/scratch.h"
#include "tests/fault/sandbox/procs.h"

namespace codesweep {
namespace {

using namespace codesweep::testing;  // NOLINT

constexpr const char* kSecret = "sk-hostile-secret-4242";

class HostileTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    setenv("CS_HOSTILE_API_KEY", kSecret, 1);
    char tmpl[] = "/tmp/cs-hostile-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    scratch_root_ = root_ + "/scratch";
    host_dir_ = root_ + "/host";
    ASSERT_EQ(mkdir(scratch_root_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(host_dir_.c_str(), 0755), 0);
    chmod(root_.c_str(), 0755);
    sentinel_ = host_dir_ + "/sentinel";
    std::ofstream(sentinel_) << "untouched";
    chmod(sentinel_.c_str(), 0600);
    label_ = "hostile-" + std::to_string(getpid()) + "-" + GetParam();
    SandboxOptions options;
    options.tier = TierLetter();
    if (GetParam() == "A-bwrap") options.backend = "bwrap";
    if (GetParam() == "A") options.backend = "native";
    options.allow_tier_c = true;
    options.scratch_root = scratch_root_;
    options.label = label_;
    auto made = MakeSandbox(options, Logger::Null());
    if (!made.ok()) {
      GTEST_SKIP() << "tier " << GetParam()
                   << " unavailable on this kernel/machine: " << made.status().ToString();
    }
    executor_ = std::move(made).value();
  }
  void TearDown() override {
    if (!root_.empty()) {
      EXPECT_TRUE(RemoveTree(root_).ok());
    }
  }

  std::string TierLetter() const { return GetParam().substr(0, 1); }
  bool Tier(const char* t) const { return TierLetter() == t; }

  // Runs `code` and checks the invariants every hostile case shares.
  ExecResult Run(const std::string& code, int64_t wall_ms = 2000, int64_t memory = 1LL << 30) {
    ExecRequest request;
    request.code = code;
    request.limits.wall_ms = wall_ms;
    request.limits.cpu_ms = wall_ms + 1000;
    request.limits.memory_bytes = memory;
    auto start = std::chrono::steady_clock::now();
    auto r = executor_->Run(request);
    int64_t took = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - start)
                       .count();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_LE(took, wall_ms + 500) << "run overstayed its deadline";
    EXPECT_TRUE(LabelledPids(label_).empty()) << "a process of the run survived";
    DIR* d = opendir(scratch_root_.c_str());
    int entries = 0;
    while (dirent* e = d ? readdir(d) : nullptr) entries += e->d_name[0] != '.';
    if (d) closedir(d);
    EXPECT_EQ(entries, 0) << "files left in the scratch root";
    EXPECT_EQ(ReadAll(sentinel_), "untouched");
    if (!r.ok()) return {};
    EXPECT_EQ(r->tier, TierLetter());
    EXPECT_EQ(r->stdout_text.find(kSecret), std::string::npos) << "secret leaked";
    EXPECT_EQ(r->stderr_text.find(kSecret), std::string::npos) << "secret leaked";
    return *r;
  }

  std::unique_ptr<Executor> executor_;
  std::string root_, scratch_root_, host_dir_, sentinel_, label_;
};

#define EXPECT_STATUS(r, s) \
  EXPECT_EQ(ExecStatusName((r).status), ExecStatusName(s)) << (r).stderr_text

TEST_P(HostileTest, ForkBomb) {
  ExecResult r =
      Run("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n"
          "        pass\n",
          1500);
  EXPECT_STATUS(r, ExecStatus::kTimeout);
}

TEST_P(HostileTest, MemoryHog) {
  // A wall limit far past the ~1 s this takes: at ~50 us a page fault on a loaded machine, 256 MiB
  // of fresh pages alone can take 3 s, and the test is about the memory verdict.
  ExecResult r = Run("b = []\nwhile True:\n    b.append(b'x' * (16 << 20))\n", 15000, 256 << 20);
  EXPECT_STATUS(r, ExecStatus::kMemory);
}

TEST_P(HostileTest, MemoryHogAcrossChildren) {
  ExecResult r = Run(
      "import os\npids = []\nfor i in range(4):\n    pid = os.fork()\n    if pid == 0:\n"
      "        b = b'x' * (120 << 20)\n        import time; time.sleep(1)\n        os._exit(0)\n"
      "    pids.append(pid)\nfor p in pids:\n    os.waitpid(p, 0)\n",
      15000, 256 << 20);  // as MemoryHog: room for a loaded machine's page faults
  // Only a cgroup sees the sum; per-process address-space limits let each child through.
  EXPECT_TRUE(r.status == ExecStatus::kMemory || r.status == ExecStatus::kOk)
      << ExecStatusName(r.status);
}

TEST_P(HostileTest, BusyLoop) {
  EXPECT_STATUS(Run("while True:\n    pass\n", 1000), ExecStatus::kTimeout);
}

TEST_P(HostileTest, HugeInteger) {
  EXPECT_STATUS(Run("x = 7 ** (10 ** 9)\nprint(x % 10)\n", 1000), ExecStatus::kTimeout);
}

TEST_P(HostileTest, SleepIgnoringSigterm) {
  ExecResult r = Run(
      "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(100)\n", 800);
  EXPECT_STATUS(r, ExecStatus::kTimeout);
}

TEST_P(HostileTest, EndlessOutput) {
  ExecResult r = Run("import sys\nwhile True:\n    sys.stdout.write('z' * 65536)\n", 5000);
  EXPECT_STATUS(r, ExecStatus::kOutputLimit);
  EXPECT_TRUE(r.stdout_truncated);
  EXPECT_LE(r.stdout_text.size(), 1u << 20);
}

TEST_P(HostileTest, ReadEtcPasswd) {
  if (Tier("C")) GTEST_SKIP() << "tier C does not hide world-readable host files (documented)";
  ExecResult r = Run("print(open('/etc/passwd').read())\n");
  EXPECT_STATUS(r, ExecStatus::kError);
  EXPECT_EQ(r.stdout_text.find("root:"), std::string::npos);
}

TEST_P(HostileTest, ReadWorkerFiles) {
  ExecResult r = Run("print(open('" + sentinel_ + "').read())\n");
  EXPECT_STATUS(r, ExecStatus::kError);
  EXPECT_EQ(r.stdout_text.find("untouched"), std::string::npos);
}

TEST_P(HostileTest, ReadProcOne) {
  ExecResult r =
      Run("import os\nfor p in ['/proc/1/environ', '/proc/%d/environ' % os.getppid(),\n"
          "          '/proc/self/environ', '/proc/1/cmdline']:\n    try:\n"
          "        print(p, open(p, 'rb').read())\n    except OSError as e:\n"
          "        print(p, 'denied', e.errno)\n");
  EXPECT_STATUS(r, ExecStatus::kOk);
}

TEST_P(HostileTest, EnvironmentHasNoKeys) {
  ExecResult r = Run("import os\nprint(dict(os.environ))\n");
  EXPECT_STATUS(r, ExecStatus::kOk);
  EXPECT_EQ(r.stdout_text.find("CS_HOSTILE_API_KEY"), std::string::npos);
}

TEST_P(HostileTest, TcpConnectAndDns) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  listen(listener, 4);
  int port = ntohs(addr.sin_port);
  ExecResult r =
      Run("import socket\nok = []\ntry:\n    socket.create_connection(('127.0.0.1', " +
          std::to_string(port) +
          "), timeout=1)\n    ok.append('tcp')\nexcept OSError:\n    pass\ntry:\n"
          "    socket.getaddrinfo('example.com', 80)\n    ok.append('dns')\nexcept OSError:\n"
          "    pass\nprint(ok)\n");
  close(listener);
  EXPECT_STATUS(r, ExecStatus::kOk);
  EXPECT_EQ(r.stdout_text, "[]\n");
}

TEST_P(HostileTest, ShellSubprocess) {
  ExecResult r =
      Run("import subprocess\nprint(subprocess.run(['sh', '-c', 'echo hi; sleep 100 >/dev/null "
          "2>&1 &'],"
          " capture_output=True, timeout=1).stdout)\n");
  EXPECT_STATUS(r, ExecStatus::kOk);
  EXPECT_EQ(r.stdout_text, "b'hi\\n'\n");
}

TEST_P(HostileTest, KillParentAndEveryone) {
  ExecResult r =
      Run("import os, signal\nfor target in (os.getppid(), -1, 0):\n    try:\n"
          "        os.kill(target, signal.SIGKILL) if target != 0 else None\n"
          "    except OSError as e:\n        print('denied', e.errno, flush=True)\n"
          "os.kill(-1, signal.SIGKILL)\n");
  EXPECT_NE(r.status, ExecStatus::kOk);
}

TEST_P(HostileTest, DoubleForkSetsidEscapee) {
  ExecResult r =
      Run("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
          "        time.sleep(100)\n    os._exit(0)\nos.wait()\nprint('parent done')\n");
  EXPECT_STATUS(r, ExecStatus::kOk);
  EXPECT_EQ(r.stdout_text, "parent done\n");
}

TEST_P(HostileTest, FillScratchAndTmp) {
  ExecResult r = Run(
      "import os, tempfile\nn = 0\ntry:\n    for d in ('.', tempfile.gettempdir()):\n"
      "        for i in range(6):\n            with open(os.path.join(d, 'f%d' % i), 'wb') as f:\n"
      "                for _ in range(20):\n                    f.write(b'x' * (1 << 20))\n"
      "                    n += 1\nexcept OSError as e:\n    print('stopped', e.errno)\n"
      "print(n)\n",
      5000);
  EXPECT_STATUS(r, ExecStatus::kOk);
  EXPECT_NE(r.stdout_text.find("stopped"), std::string::npos) << "no file-size limit hit";
}

TEST_P(HostileTest, ThousandsOfFilesAndThreads) {
  ExecResult r =
      Run("import threading, time\nfiles = []\ntry:\n    for _ in range(5000):\n"
          "        files.append(open('/dev/null'))\nexcept OSError as e:\n"
          "    print('files stopped', e.errno)\nfiles = []\nthreads = []\ntry:\n"
          "    for _ in range(2000):\n        t = threading.Thread(target=time.sleep, args=(100,),"
          " daemon=True)\n        t.start()\n        threads.append(t)\nexcept RuntimeError:\n"
          "    print('threads stopped')\nimport os, sys\nsys.stdout.flush()\nos._exit(0)\n",
          3000);
  EXPECT_STATUS(r, ExecStatus::kOk);
  EXPECT_NE(r.stdout_text.find("files stopped"), std::string::npos);
  EXPECT_NE(r.stdout_text.find("threads stopped"), std::string::npos);
}

TEST_P(HostileTest, PtraceAndUnshare) {
  ExecResult r =
      Run("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
          "print(libc.ptrace(0, 0, 0, 0), libc.unshare(0x10000000), libc.unshare(0x20000))\n");
  EXPECT_STATUS(r, ExecStatus::kOk);
  EXPECT_EQ(r.stdout_text, "-1 -1 -1\n");
}

TEST_P(HostileTest, WriteToUsr) {
  ExecResult r = Run("open('/usr/cs_hostile_write', 'w').write('x')\n");
  EXPECT_STATUS(r, ExecStatus::kError);
  struct stat st;
  EXPECT_NE(stat("/usr/cs_hostile_write", &st), 0);
}

TEST_P(HostileTest, SymlinksPlantedInScratch) {
  ExecResult r = Run("import os\nos.symlink('" + host_dir_ + "', 'dir')\nos.symlink('" + sentinel_ +
                     "', 'file')\ntry:\n    open('file', 'w').write('pwned')\nexcept OSError:\n"
                     "    print('denied')\n");
  EXPECT_STATUS(r, ExecStatus::kOk);
  EXPECT_EQ(r.stdout_text, "denied\n");
}

TEST_P(HostileTest, NonUtf8AndNulOutput) {
  ExecResult r = Run("import sys\nsys.stdout.buffer.write(b'\\xff\\xfe\\x00abc\\x00')\n");
  EXPECT_STATUS(r, ExecStatus::kOk);
  EXPECT_EQ(r.stdout_text, std::string("\xff\xfe\0abc\0", 7));
}

TEST_P(HostileTest, OneMebibyteSource) {
  std::string code;
  while (code.size() < (1u << 20)) code += "x = 1  # padding padding padding padding padding\n";
  ExecResult r = Run(code + "print(x)\n", 5000);
  EXPECT_STATUS(r, ExecStatus::kOk);
  EXPECT_EQ(r.stdout_text, "1\n");
}

// Exit codes above 128 are exit codes, and real signals are signals, in every tier (bubblewrap
// reports a signal N as exit code 128 + N; regression test).
TEST_P(HostileTest, ExitCodesAndSignalsAreTruthful) {
  ExecResult exited = Run("import sys\nsys.exit(130)\n");
  EXPECT_STATUS(exited, ExecStatus::kError);
  EXPECT_EQ(exited.exit_code, 130);
  EXPECT_EQ(exited.signal, 0);
  ExecResult high = Run("raise SystemExit(192)\n");
  EXPECT_EQ(high.exit_code, 192);
  EXPECT_EQ(high.signal, 0);
  ExecResult killed = Run("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n");
  EXPECT_STATUS(killed, ExecStatus::kKilled);
  EXPECT_EQ(killed.signal, SIGKILL);
  ExecResult segv = Run("import ctypes\nctypes.string_at(0)\n");
  EXPECT_STATUS(segv, ExecStatus::kKilled);
  EXPECT_EQ(segv.signal, SIGSEGV);
}

INSTANTIATE_TEST_SUITE_P(Tiers, HostileTest, ::testing::Values("A", "A-bwrap", "B", "C"),
                         [](const auto& info) {
                           std::string name = "Tier" + info.param;
                           if (name == "TierA-bwrap") name = "TierABwrap";
                           return name;
                         });

// Where user namespaces cannot be created (disabled by sysctl, or a kernel without them), the
// probe must fall back to tier B. ctest runs this binary once with user namespaces turned off.
TEST(TierProbe, AutoFallsBackToBWithoutUserNamespaces) {
  pid_t pid = fork();
  if (pid == 0) _exit(unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    GTEST_SKIP() << "user namespaces work here; the fault_sandbox_no_userns ctest turns them off";
  }
  SandboxOptions options;
  auto made = MakeSandbox(options, Logger::Null());
  if (!made.ok()) GTEST_SKIP() << "no tier B either: " << made.status().ToString();
  auto r = (*made)->Run({"print('b')\n", {}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->tier, "B");
  EXPECT_EQ(r->stdout_text, "b\n");
}

}  // namespace
}  // namespace codesweep
