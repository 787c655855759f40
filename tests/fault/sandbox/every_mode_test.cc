// What holds in every tier and mode the machine supports (tier A with the native backend, with
// bubblewrap and in fork-server mode; B; C): nothing of a run survives a real SIGKILL of the
// process that started it (processes and scratch gone within a second), model code runs
// unprivileged, cannot reach a host unix socket by path or abstract name (stream or datagram),
// and a timeout is reported as the SIGKILL that ended it.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "jobs/sandbox/profile.h"
#include "jobs/sandbox/sandbox.h"
#include "jobs/sandbox/scratch.h"
#include "tests/fault/sandbox/procs.h"

namespace codesweep {
namespace {

using namespace codesweep::testing;  // NOLINT

using Clock = std::chrono::steady_clock;

// Every descendant of `pid` (children of every thread, recursively).
void Descendants(int pid, std::set<int>& out) {
  DIR* tasks = opendir(("/proc/" + std::to_string(pid) + "/task").c_str());
  while (dirent* t = tasks ? readdir(tasks) : nullptr) {
    if (t->d_name[0] == '.') continue;
    std::istringstream children(
        ReadAll("/proc/" + std::to_string(pid) + "/task/" + t->d_name + "/children"));
    for (int child; children >> child;) {
      if (out.insert(child).second) Descendants(child, out);
    }
  }
  if (tasks) closedir(tasks);
}

int CountEntries(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  int entries = 0;
  while (dirent* e = d ? readdir(d) : nullptr) entries += e->d_name[0] != '.';
  if (d) closedir(d);
  return entries;
}

// A unix socket bound at `path` (a leading '@' = abstract) that anyone may connect to.
int Listen(int type, const std::string& path) {
  int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (path[0] == '@') addr.sun_path[0] = 0;
  socklen_t len = offsetof(sockaddr_un, sun_path) + path.size();
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0) << path << strerror(errno);
  if (type == SOCK_STREAM) listen(fd, 8);
  if (path[0] != '@') chmod(path.c_str(), 0777);
  return fd;
}

class EveryModeTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cs-every-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    scratch_root_ = root_ + "/scratch";
    host_dir_ = root_ + "/host";
    ASSERT_EQ(mkdir(scratch_root_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(host_dir_.c_str(), 0755), 0);
    chmod(root_.c_str(), 0755);
    label_ = "every-" + std::to_string(getpid()) + "-" + GetParam();
    options_.tier = GetParam().substr(0, 1);
    if (GetParam() == "A") options_.backend = "native";
    if (GetParam() == "A-bwrap") options_.backend = "bwrap";
    if (GetParam() == "A-forkserver") options_.mode = "forkserver";
    options_.preload = {};
    options_.allow_tier_c = true;
    options_.scratch_root = scratch_root_;
    options_.label = label_;
    auto made = MakeSandbox(options_, Logger::Null());
    if (!made.ok()) {
      GTEST_SKIP() << GetParam() << " unavailable here: " << made.status().ToString();
    }
    executor_ = std::move(made).value();
  }
  void TearDown() override {
    executor_.reset();
    if (!root_.empty()) {
      EXPECT_TRUE(RemoveTree(root_).ok());
    }
  }

  ExecResult Run(const std::string& code, int64_t wall_ms = 3000) {
    ExecRequest request{code, {}};
    request.limits.wall_ms = wall_ms;
    request.limits.cpu_ms = wall_ms + 1000;
    auto r = executor_->Run(request);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : ExecResult{};
  }

  SandboxOptions options_;
  std::unique_ptr<Executor> executor_;
  std::string root_, scratch_root_, host_dir_, label_;
};

// The code leaves a setsid'd grandchild behind and sleeps; a "worker" process (its own sandbox,
// the run on a slot thread, as `codesweep worker` runs them) is SIGKILLed mid-run.
TEST_P(EveryModeTest, WorkerKilledMidRunLeavesNothing) {
  const std::string code =
      "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\n"
      "    os._exit(0)\ntime.sleep(60)\n";
  executor_.reset();  // this process's own fork server carries the label too
  pid_t worker = fork();
  ASSERT_GE(worker, 0);
  if (worker == 0) {
    auto made = MakeSandbox(options_, Logger::Null());
    if (!made.ok()) _exit(3);
    std::thread slot([&] { (void)(*made)->Run({code, ExecLimits{30'000, 31'000}}); });
    slot.join();
    _exit(0);
  }
  // Running: the interpreter and its grandchild (and, in fork-server mode, the server).
  size_t want = GetParam() == "A-forkserver" ? 3 : 2;
  Clock::time_point started_by = Clock::now() + std::chrono::seconds(30);
  while (LabelledPids(label_, "python3").size() < want && Clock::now() < started_by) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GE(LabelledPids(label_, "python3").size(), want) << "the run never started";
  std::set<int> tree;
  Descendants(worker, tree);
  ASSERT_EQ(kill(worker, SIGKILL), 0);
  ASSERT_EQ(waitpid(worker, nullptr, 0), worker);

  Clock::time_point deadline = Clock::now() + std::chrono::seconds(1);
  auto survivors = [&] {
    std::vector<int> out = LabelledPids(label_);
    for (int pid : tree) {
      if (Alive(pid)) out.push_back(pid);
    }
    return out;
  };
  while ((!survivors().empty() || CountEntries(scratch_root_) > 0) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::vector<int> left = survivors();
  for (int pid : left) {
    ADD_FAILURE() << "process " << pid << " survived its worker by more than a second: "
                  << ReadAll("/proc/" + std::to_string(pid) + "/stat");
    kill(pid, SIGKILL);
  }
  EXPECT_EQ(CountEntries(scratch_root_), 0) << "the run's scratch survived its worker";
}

// The host uid (real, effective, saved) of `pid`, from the host's /proc.
std::vector<int> HostUids(int pid) {
  std::string status = ReadAll("/proc/" + std::to_string(pid) + "/status");
  size_t at = status.find("\nUid:");
  std::vector<int> out(3, -1);
  if (at != std::string::npos)
    std::istringstream(status.substr(at + 5)) >> out[0] >> out[1] >> out[2];
  return out;
}

TEST_P(EveryModeTest, CodeRunsUnprivileged) {
  // While the code sleeps, every process of the run (and the fork server) is looked at from the
  // host: none may be the host's root.
  std::vector<std::vector<int>> host_uids;
  std::thread run([&] {
    ExecResult r =
        Run("import os, ctypes, time\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "hdr = (ctypes.c_uint32 * 2)(0x20080522, 0)\ndata = (ctypes.c_uint32 * 6)()\n"
            "libc.capget(hdr, data)\n"
            "print(os.getuid(), os.geteuid(), os.getgid(), data[0] | data[3] | data[1] | data[4], "
            "flush=True)\ntime.sleep(1)\n");
    EXPECT_EQ(r.status, ExecStatus::kOk) << r.stderr_text;
    int uid = -1, euid = -1, gid = -1;
    long long caps = -1;
    std::istringstream(r.stdout_text) >> uid >> euid >> gid >> caps;
    EXPECT_EQ(caps, 0) << "model code holds capabilities";
    // Root in a one-uid user namespace (no 65534 to switch to) is the only uid 0 left, and then
    // without capabilities: that namespace's root is the caller's own host uid.
    if (geteuid() != 0 || CanSwitchToNobody()) {
      EXPECT_NE(uid, 0) << r.stdout_text;
      EXPECT_NE(euid, 0) << r.stdout_text;
      EXPECT_NE(gid, 0) << r.stdout_text;
    }
    if (geteuid() == 0 && CanSwitchToNobody()) {
      EXPECT_EQ(uid, 65534) << r.stdout_text;
    }
  });
  Clock::time_point deadline = Clock::now() + std::chrono::seconds(3);
  std::vector<int> pids;
  while (pids.empty() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    pids = LabelledPids(label_, "python3");
  }
  for (int pid : LabelledPids(label_)) host_uids.push_back(HostUids(pid));
  run.join();
  EXPECT_FALSE(pids.empty()) << "never saw the run's interpreter";
  if (geteuid() != 0 || CanSwitchToNobody()) {
    for (const std::vector<int>& uids : host_uids) {
      for (int u : uids) EXPECT_NE(u, 0) << "a process of the run is the host's root";
    }
  }
}

// Host unix sockets, by path and by abstract name, stream and datagram: nothing arrives.
// socketpair() (stream) still works.
TEST_P(EveryModeTest, HostUnixSocketsAreUnreachable) {
  std::string abstract = "@cs-every-" + std::to_string(getpid());
  std::vector<std::pair<std::string, int>> targets = {{host_dir_ + "/stream.sock", SOCK_STREAM},
                                                      {host_dir_ + "/dgram.sock", SOCK_DGRAM},
                                                      {abstract + "-stream", SOCK_STREAM},
                                                      {abstract + "-dgram", SOCK_DGRAM}};
  std::vector<int> listeners;
  std::string list = "[";
  for (const auto& [path, type] : targets) {
    listeners.push_back(Listen(type, path));
    std::string py_path = path[0] == '@' ? "'\\0" + path.substr(1) + "'" : "'" + path + "'";
    list += "(" + py_path + ", " + (type == SOCK_STREAM ? "True" : "False") + "),";
  }
  list += "]";
  ExecResult r =
      Run("import socket\nreached = []\n"
          "a, b = socket.socketpair()\na.sendall(b'p')\nprint('pair', b.recv(1))\n"
          "for path, stream in " +
          list +
          ":\n"
          "    tries = [lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect(path)]\n"
          "    if not stream:\n"
          "        tries = [lambda: socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b'x', "
          "path),\n"
          "                 lambda: socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)[0]"
          ".sendto(b'x', path)]\n"
          "    for t in tries:\n"
          "        try:\n            t()\n            reached.append(path)\n"
          "        except OSError:\n            pass\n"
          "print('reached', reached)\n");
  EXPECT_EQ(r.status, ExecStatus::kOk) << r.stderr_text;
  EXPECT_NE(r.stdout_text.find("pair b'p'"), std::string::npos) << r.stdout_text;
  EXPECT_NE(r.stdout_text.find("reached []"), std::string::npos) << r.stdout_text;
  for (size_t i = 0; i < listeners.size(); ++i) {
    char byte;
    int got = targets[i].second == SOCK_STREAM ? accept(listeners[i], nullptr, nullptr)
                                               : static_cast<int>(recv(listeners[i], &byte, 1, 0));
    EXPECT_LT(got, 0) << "something reached " << targets[i].first;
    if (got >= 0 && targets[i].second == SOCK_STREAM) close(got);
    close(listeners[i]);
  }
}

TEST_P(EveryModeTest, TimeoutReportsTheKill) {
  ExecResult r = Run("import time\ntime.sleep(30)\n", 500);
  EXPECT_EQ(r.status, ExecStatus::kTimeout) << ExecStatusName(r.status);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
}

INSTANTIATE_TEST_SUITE_P(Every, EveryModeTest,
                         ::testing::Values("A", "A-bwrap", "A-forkserver", "B", "C"),
                         [](const auto& info) {
                           std::string name = "Tier" + info.param;
                           if (info.param == "A-bwrap") name = "TierABwrap";
                           if (info.param == "A-forkserver") name = "TierAForkServer";
                           return name;
                         });

}  // namespace
}  // namespace codesweep
