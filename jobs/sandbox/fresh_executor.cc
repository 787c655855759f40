// Fresh mode: a new interpreter per run.
#include "jobs/sandbox/fresh_executor.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "jobs/sandbox/scratch.h"

namespace codesweep {
namespace {

constexpr int kCodeFd = 3, kSeccompFd = 4, kStatusFd = 5, kExitCodeFd = 6;

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
  if (!request.prelude.empty()) return Run(ExecRequest{WholeProgram(request), request.limits, ""});
  const ExecLimits& limits = request.limits;
  if (static_cast<int64_t>(request.code.size()) > limits.max_file_bytes) {
    return Refused(profile_->tier, "source larger than max_file_bytes");
  }
  if (profile_->native) return profile_->native->Run(request);
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
  CS_ASSIGN_OR_RETURN(UniqueFd code, MemFdWith("cs-code", request.code));
  CS_ASSIGN_OR_RETURN(UniqueFd bpf, MemFdWith("cs-seccomp", profile_->seccomp_bpf));
  CS_ASSIGN_OR_RETURN(Pipe marks, MakePipe());
  plan.fds = {{code.get(), kCodeFd}, {bpf.get(), kSeccompFd}, {marks.write.get(), kExitCodeFd}};
  plan.exe = profile_->bwrap;
  plan.argv =
      BwrapArgs(*profile_, request.limits, {{kCodeFd, "/code/main.py"}}, kSeccompFd, kStatusFd,
                TierAInterpreterArgs(profile_->python, profile_->sys_path, kExitCodeFd));
  plan.env = SandboxEnv("/scratch", "/tmp", profile_->label);
  RunAsNobody(*profile_, plan);  // bubblewrap maps the sandbox's 65534 to the caller's uid
  SpawnOptions options;
  options.status_fd_in_child = kStatusFd;
  Result<RawRun> spawned = SpawnAndCapture(plan, request.limits, cgroup, options);
  marks.write.Reset();
  CS_ASSIGN_OR_RETURN(RawRun raw, std::move(spawned));
  if (raw.status_text.find("child-pid") == std::string::npos && !raw.timed_out &&
      !raw.output_killed) {
    return Status::Internal("sandbox: bubblewrap did not start the interpreter: " +
                            raw.stderr_text.substr(0, 500));
  }
  // bubblewrap reports a child killed by signal N as exit code 128 + N. The interpreter's
  // preamble writes the exit code it leaves with and its CPU time; without that, 129..192 is a
  // signal. bubblewrap's own rusage leaves the interpreter's CPU time out (its reaper is never
  // waited for), so the preamble's figure is taken when it is larger. (A program that leaves by
  // os._exit() or a signal bypasses the preamble: only the native backend is exact.)
  if (WIFEXITED(raw.wait_status)) {
    int code = WEXITSTATUS(raw.wait_status);
    char buf[48] = {};
    fcntl(marks.read.get(), F_SETFL, O_NONBLOCK);
    ssize_t n = read(marks.read.get(), buf, sizeof(buf) - 1);
    int said_code = -1;
    long long cpu_ms = -1;
    const int fields = n > 0 ? std::sscanf(buf, "%d %lld", &said_code, &cpu_ms) : 0;
    bool said_so = fields >= 1 && said_code == code;
    if (code > 128 && code <= 128 + 64 && !said_so) raw.wait_status = code - 128;  // signalled
    const long long measured_ms =
        raw.usage.ru_utime.tv_sec * 1000LL + raw.usage.ru_utime.tv_usec / 1000 +
        raw.usage.ru_stime.tv_sec * 1000LL + raw.usage.ru_stime.tv_usec / 1000;
    if (said_so && fields == 2 && cpu_ms > measured_ms) {
      raw.usage.ru_utime = {static_cast<time_t>(cpu_ms / 1000),
                            static_cast<suseconds_t>(cpu_ms % 1000 * 1000)};
      raw.usage.ru_stime = {0, 0};
    }
  }
  ExecResult result = Classify(std::move(raw), "A", cgroup, request.limits);
  result.backend = "bwrap";
  return result;
}

Result<ExecResult> FreshExecutor::RunMonitored(const ExecRequest& request, ChildPlan& plan,
                                               RunCgroup* cgroup) {
  bool nobody = profile_->run_as_nobody;
  CS_ASSIGN_OR_RETURN(RunDir dir, MakeRunDir(profile_->scratch_root, request.code,
                                             nobody ? kNobody : -1, nobody ? kNobody : -1));
  plan.exe = profile_->python;
  plan.argv = {profile_->python, "-I", dir.code};
  plan.cwd = dir.scratch;
  plan.env = SandboxEnv(dir.scratch, dir.scratch, profile_->label);
  plan.monitor = true;
  plan.run_dir = dir.root;
  RunAsNobody(*profile_, plan);
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
