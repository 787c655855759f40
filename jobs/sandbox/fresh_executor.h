// FreshExecutor: one new interpreter per Run() in the profile's tier (A: bubblewrap; B/C: a
// monitor process with Landlock/seccomp in the interpreter). Thread-safe: Run() keeps all its state
// on its own stack; the shared profile is read-only.
#pragma once

#include <memory>

#include "jobs/sandbox/executor.h"
#include "jobs/sandbox/profile.h"

namespace codesweep {

class FreshExecutor : public Executor {
 public:
  explicit FreshExecutor(std::shared_ptr<const SandboxProfile> profile)
      : profile_(std::move(profile)) {}
  Result<ExecResult> Run(const ExecRequest& request) override;

 private:
  Result<ExecResult> RunTierA(const ExecRequest& request, ChildPlan& plan, RunCgroup* cgroup);
  Result<ExecResult> RunMonitored(const ExecRequest& request, ChildPlan& plan, RunCgroup* cgroup);
  std::shared_ptr<const SandboxProfile> profile_;
};

// Result for code the sandbox will not run at all (status refused, message on stderr).
ExecResult Refused(const std::string& tier, const std::string& why);

}  // namespace codesweep
