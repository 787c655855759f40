// FakeLlm: starts the fakellm binary as a child in its own process group, reads the port it
// prints, and kills the whole group on destruction. For the methods integration tests; one test
// thread uses it.
#pragma once

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "jobs/methods/client_factory.h"
#include "jobs/methods/method.h"

extern char** environ;

namespace codesweep::testing {

// A fakellm child in its own process group; killed (whole group) on destruction.
class FakeLlm {
 public:
  explicit FakeLlm(std::vector<std::string> args) {
    std::string bin = std::string(CODESWEEP_BINARY_DIR) + "/fakellm";
    int fds[2];
    if (::pipe(fds) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    args.insert(args.begin(), bin);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, bin.c_str(), &fa, &attr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    ::close(fds[1]);
    port_ = ReadPort(fds[0]);
    ::close(fds[0]);
  }
  ~FakeLlm() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGTERM);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }
  int port() const { return port_; }

 private:
  // First stdout line, within a 20 s deadline.
  static int ReadPort(int fd) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    std::string line;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char c;
      if (::read(fd, &c, 1) != 1) break;
      if (c == '\n') return std::atoi(line.c_str());
      line += c;
    }
    return -1;
  }
  pid_t pid_ = -1;
  int port_ = -1;
};

// Runs one cell as a worker would, through the real provider clients (fakellm), with every
// API key resolving to "test-key".
inline Outcome RunWithTestKey(const JobSpec& spec, const TaskRegistry* tasks, Executor* executor) {
  ProviderEnv env;
  env.get_secret = [](const std::string&) { return std::optional<std::string>("test-key"); };
  RunnerDeps deps;
  deps.tasks = tasks;
  deps.executor = executor;
  deps.make_client = MakeDefaultClientFactory(env);
  return RunJob(spec, deps);
}

}  // namespace codesweep::testing
