// Fresh mode: a new interpreter per run.
#include "jobs/sandbox/fresh_executor.h"

#include <unistd.h>

#include "jobs/sandbox/scratch.h"

namespace codesweep {
namespace {

constexpr int kCodeFd = 3, kSeccompFd = 4, kStatusFd = 5;
constexpr int kNobody = 65534;

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

ExecResult Refused(const std::string& tier, const std::string& why) {
  ExecResult r;
  r.status = ExecStatus::kRefused;
  r.exit_code = -1;
  r.stderr_text = why;
  r.tier = tier;
  return r;
}

Result<ExecResult> FreshExecutor::Run(const ExecRequest& request) {
  const ExecLimits& limits = request.limits;
  if (static_cast<int64_t>(request.code.size()) > limits.max_file_bytes) {
    return Refused(profile_->tier, "source larger than max_file_bytes");
  }
  std::unique_ptr<RunCgroup> cgroup;
  if (profile_->cgroups) {
    auto made = profile_->cgroups->Create(limits.memory_bytes, limits.max_processes);
    if (made.ok()) cgroup = std::move(made).value();
  }
  ChildPlan plan;
  plan.limits = LimitsFor(limits, cgroup != nullptr);
  if (cgroup) plan.cgroup_procs = cgroup->procs_files();
  if (profile_->tier == "A") return RunTierA(request, plan, cgroup.get());
  return RunMonitored(request, plan, cgroup.get());
}

Result<ExecResult> FreshExecutor::RunTierA(const ExecRequest& request, ChildPlan& plan,
                                           RunCgroup* cgroup) {
  CS_ASSIGN_OR_RETURN(int code_fd, MemFdWith("cs-code", request.code));
  FdCloser code_closer{code_fd};
  CS_ASSIGN_OR_RETURN(int bpf_fd, MemFdWith("cs-seccomp", profile_->seccomp_bpf));
  FdCloser bpf_closer{bpf_fd};
  plan.fds = {{code_fd, kCodeFd}, {bpf_fd, kSeccompFd}};
  plan.exe = profile_->bwrap;
  plan.argv = BwrapArgs(*profile_, request.limits, {{kCodeFd, "/code/main.py"}}, kSeccompFd,
                        kStatusFd, {profile_->python, "-I", "/code/main.py"});
  plan.env = SandboxEnv("/scratch", "/tmp", profile_->label);
  SpawnOptions options;
  options.status_fd_in_child = kStatusFd;
  CS_ASSIGN_OR_RETURN(RawRun raw, SpawnAndCapture(plan, request.limits, cgroup, options));
  if (raw.status_text.find("child-pid") == std::string::npos && !raw.timed_out &&
      !raw.output_killed) {
    return Status::Internal("sandbox: bubblewrap did not start the interpreter: " +
                            raw.stderr_text.substr(0, 500));
  }
  return Classify(std::move(raw), "A", cgroup, request.limits);
}

Result<ExecResult> FreshExecutor::RunMonitored(const ExecRequest& request, ChildPlan& plan,
                                               RunCgroup* cgroup) {
  bool root = geteuid() == 0;
  CS_ASSIGN_OR_RETURN(RunDir dir, MakeRunDir(profile_->scratch_root, request.code,
                                             root ? kNobody : -1, root ? kNobody : -1));
  plan.exe = profile_->python;
  plan.argv = {profile_->python, "-I", dir.code};
  plan.cwd = dir.scratch;
  plan.env = SandboxEnv(dir.scratch, dir.scratch, profile_->label);
  plan.monitor = true;
  plan.drop_privileges = root;
  plan.run_uid = kNobody;
  plan.run_gid = kNobody;
  plan.seccomp_bpf = &profile_->seccomp_bpf;
  LandlockPlan landlock = profile_->landlock;
  if (profile_->tier == "B") {
    landlock.read_only.push_back(dir.code);
    landlock.read_write.push_back(dir.scratch);
    plan.landlock = &landlock;
  }
  SpawnOptions options;
  options.soft_terminate = true;
  Result<RawRun> raw = SpawnAndCapture(plan, request.limits, cgroup, options);
  Status removed = RemoveTree(dir.root);
  if (!raw.ok()) return raw.status();
  if (!removed.ok()) return removed.WithContext("sandbox: scratch removal");
  return Classify(std::move(raw).value(), profile_->tier, cgroup, request.limits);
}

}  // namespace codesweep
