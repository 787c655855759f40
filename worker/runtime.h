// JobRuntime: everything a process needs to run jobs for real (task registry, sandbox, client
// factory, the JobRunner over them), built once by `codesweep run` and `codesweep worker`.
// Owns what it builds; runner() is safe to call from many slots while the runtime lives.
// SignalWatcher: turns SIGINT/SIGTERM (or the given signals) into a callback on its own thread
// (construct it before any other thread starts, so every thread inherits the blocked mask).
#pragma once

#include <signal.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "jobs/llm/providers.h"
#include "jobs/sandbox/sandbox.h"
#include "jobs/tasks/task.h"
#include "worker/worker.h"

namespace codesweep {

struct RuntimeOptions {
  std::string data_dir;  // "" = DefaultDataDir()
  SandboxOptions sandbox;
  ProviderEnv env;  // secrets lookup (main reads the environment)
  // Build the sandbox (its probe starts Python twice) on a thread of its own while the caller
  // goes on with its start-up; Ready() waits for it. false: Create builds it before returning.
  bool sandbox_in_background = false;
};

class JobRuntime {
 public:
  // `log` must outlive the runtime.
  static Result<std::unique_ptr<JobRuntime>> Create(const RuntimeOptions& options, Logger& log);
  ~JobRuntime();
  // Waits for the sandbox; its error if it could not be built (then no job may run).
  Status Ready();
  const TaskRegistry& tasks() const { return *tasks_; }
  const JobRunner& runner() const { return runner_; }

 private:
  JobRuntime() = default;
  SystemClock clock_;
  std::unique_ptr<TaskRegistry> tasks_;
  std::unique_ptr<Executor> executor_;
  JobRunner runner_;
};

class SignalWatcher {
 public:
  explicit SignalWatcher(std::function<void(int)> on_signal,
                         std::vector<int> signals = {SIGINT, SIGTERM});
  ~SignalWatcher();
  void set_handler(std::function<void(int)> on_signal);

 private:
  std::function<void(int)> handler_;
  const int wake_signal_;  // one of the watched signals (0: none), sent to end the thread
  std::atomic<bool> done_{false};
  std::mutex mu_;
  std::thread thread_;
};

// Secrets come from the process environment; only main-level code should call this.
ProviderEnv EnvironmentSecrets(Logger* log);

}  // namespace codesweep
