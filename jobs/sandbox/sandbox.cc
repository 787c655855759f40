// MakeSandbox: probe the tiers, build the profile, return an executor of the chosen mode.
#include "jobs/sandbox/sandbox.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "jobs/sandbox/fresh_executor.h"
#include "jobs/sandbox/profile.h"
#include "jobs/sandbox/sandbox_info.h"
#include "jobs/sandbox/scratch.h"
#include "jobs/sandbox/seccomp_policy.h"

namespace codesweep {

Result<std::unique_ptr<Executor>> MakeForkServer(std::shared_ptr<const SandboxProfile> profile,
                                                 const SandboxOptions& options, Logger& logger);

namespace {

bool IsExecutable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

std::string FindBwrap() {
  for (const char* p : {"/usr/bin/bwrap", "/bin/bwrap", "/usr/local/bin/bwrap"}) {
    if (IsExecutable(p)) return p;
  }
  return "";
}

LandlockPlan SystemPaths(const std::string& python) {
  LandlockPlan plan;
  plan.read_only = {"/usr",           "/bin",
                    "/lib",           "/lib64",
                    "/sbin",          "/etc/ld.so.cache",
                    "/etc/localtime", "/etc/alternatives",
                    "/etc/python3",   "/etc/matplotlibrc"};
  for (int minor = 6; minor < 20; ++minor) {
    plan.read_only.push_back("/etc/python3." + std::to_string(minor));
  }
  std::string prefix = python.substr(0, python.rfind('/'));
  prefix = prefix.substr(0, prefix.rfind('/'));
  if (!prefix.empty() && prefix != "/usr") plan.read_only.push_back(prefix);
  plan.devices = {"/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"};
  return plan;
}

std::string ScratchRoot(const SandboxOptions& options) {
  if (!options.scratch_root.empty()) return options.scratch_root;
  return "/tmp";
}

Status ProbeRun(const std::shared_ptr<SandboxProfile>& profile);
Result<std::shared_ptr<SandboxProfile>> ChooseTierABackend(const SandboxOptions& options,
                                                           std::shared_ptr<SandboxProfile> profile);
Result<std::vector<std::string>> SitePath(const std::string& python);

// Builds the profile for `tier` and checks it by running a trivial program in it.
Result<std::shared_ptr<SandboxProfile>> BuildProfile(const SandboxOptions& options,
                                                     const std::string& tier) {
  auto profile = std::make_shared<SandboxProfile>();
  profile->tier = tier;
  profile->python = options.python;
  profile->scratch_root = ScratchRoot(options);
  profile->label = options.label;
  profile->run_as_nobody = CanSwitchToNobody();
  if (tier == "A") {
    profile->bwrap = FindBwrap();
    CS_ASSIGN_OR_RETURN(profile->sys_path, SitePath(options.python));
  } else if (tier == "B") {
    if (LandlockAbiVersion() <= 0) return Status::Unavailable("tier B: kernel lacks Landlock");
    profile->landlock = SystemPaths(options.python);
  }
  SeccompPolicy policy;
  policy.deny_kill_all = tier != "A";
  CS_ASSIGN_OR_RETURN(profile->seccomp_bpf, BuildSeccompBpf(policy));
  profile->cgroups = CgroupSupport::Probe();
  if (tier == "A") return ChooseTierABackend(options, profile);
  CS_RETURN_IF_ERROR(ProbeRun(profile));
  return profile;
}

// Runs a trivial program in the profile.
Status ProbeRun(const std::shared_ptr<SandboxProfile>& profile) {
  const std::string& tier = profile->tier;
  FreshExecutor probe(profile);
  ExecRequest request;
  request.code = "import sys\nsys.stdout.write('ok')\n";
  request.limits.wall_ms = 5000;
  Result<ExecResult> r = probe.Run(request);
  if (!r.ok()) return r.status().WithContext("tier " + tier + " probe");
  if (r->status != ExecStatus::kOk || r->stdout_text != "ok") {
    return Status::Unavailable("tier " + tier + " probe: status " +
                               std::string(ExecStatusName(r->status)) + ": " +
                               r->stderr_text.substr(0, 300));
  }
  return Status::OK();
}

// Tier A: the native backend where it can be set up (and passes the probe), else bubblewrap.
Result<std::shared_ptr<SandboxProfile>> ChooseTierABackend(
    const SandboxOptions& options, std::shared_ptr<SandboxProfile> profile) {
  std::string why;
  if (options.backend != "bwrap" && options.mode == "fresh") {
    profile->backend = "native";
    profile->native = std::make_shared<NativeLaunchers>(*profile);
    Status native = ProbeRun(profile);
    if (native.ok()) return profile;
    why = "native: " + native.message();
    profile->native.reset();
  }
  if (options.backend == "native") return Status::Unavailable("tier A " + why);
  if (profile->bwrap.empty()) {
    return Status::Unavailable("tier A: " + (why.empty() ? "" : why + "; ") +
                               "bubblewrap not found");
  }
  profile->backend = "bwrap";
  Status bwrap = ProbeRun(profile);
  if (!bwrap.ok()) return Status::Unavailable((why.empty() ? "" : why + "; ") + bwrap.message());
  profile->backend_note = why;
  return profile;
}

// The interpreter's sys.path as site sets it up (tier A runs it with -S and puts this back).
Result<std::vector<std::string>> SitePath(const std::string& python) {
  ChildPlan plan;
  plan.exe = python;
  plan.argv = {python, "-I", "-c", "import sys\nprint('\\n'.join(sys.path))\n"};
  plan.env = SandboxEnv("/", "/tmp", "");
  ExecLimits limits;
  limits.wall_ms = 10000;
  CS_ASSIGN_OR_RETURN(RawRun raw, SpawnAndCapture(plan, limits, nullptr, SpawnOptions{}));
  if (!WIFEXITED(raw.wait_status) || WEXITSTATUS(raw.wait_status) != 0) {
    return Status::Unavailable("tier A: cannot read the interpreter's sys.path: " +
                               raw.stderr_text.substr(0, 300));
  }
  std::vector<std::string> out;
  size_t at = 0;
  while (at < raw.stdout_text.size()) {
    size_t nl = raw.stdout_text.find('\n', at);
    if (nl == std::string::npos) nl = raw.stdout_text.size();
    if (nl > at) out.push_back(raw.stdout_text.substr(at, nl - at));
    at = nl + 1;
  }
  return out;
}

Status CheckOptions(const SandboxOptions& options) {
  if (options.python.empty() || options.python[0] != '/') {
    return Status::InvalidArgument("sandbox: python must be an absolute path: " + options.python);
  }
  if (!IsExecutable(options.python)) {
    return Status::InvalidArgument("sandbox: python is not executable: " + options.python);
  }
  if (options.tier != "auto" && options.tier != "A" && options.tier != "B" && options.tier != "C") {
    return Status::InvalidArgument("sandbox: tier must be auto, A, B or C: " + options.tier);
  }
  if (options.backend != "auto" && options.backend != "native" && options.backend != "bwrap") {
    return Status::InvalidArgument("sandbox: backend must be auto, native or bwrap: " +
                                   options.backend);
  }
  if (options.mode != "fresh" && options.mode != "forkserver") {
    return Status::InvalidArgument("sandbox: mode must be fresh or forkserver: " + options.mode);
  }
  if (options.tier == "C" && !options.allow_tier_c) {
    return Status::PermissionDenied(
        "sandbox: tier C (seccomp + rlimits only) needs the explicit allow flag");
  }
  return Status::OK();
}

constexpr const char* kTierCWarning =
    "sandbox tier C: no namespaces and no Landlock. The code runs as an unprivileged user (when "
    "started as root) under seccomp and rlimits only: it can read any world-readable host file, "
    "see other processes, and what it writes to the host's /tmp, /var/tmp and /dev/shm persists; "
    "sockets (but unix stream socketpairs), ptrace and namespaces are denied.";

}  // namespace

Result<std::unique_ptr<Executor>> MakeSandbox(const SandboxOptions& options, Logger& logger) {
  CS_RETURN_IF_ERROR(CheckOptions(options));
  // What runs of a previous worker left when it and their monitors died (killed as a group).
  int stale = RemoveStaleRunDirs(ScratchRoot(options));
  if (stale > 0) logger.Info(Str("sandbox removed ", stale, " stale run directories"));
  std::vector<std::string> order;
  if (options.tier == "auto") {
    order = {"A", "B"};
    if (options.allow_tier_c) order.push_back("C");
  } else {
    order = {options.tier};
  }
  std::string why;
  for (const std::string& tier : order) {
    Result<std::shared_ptr<SandboxProfile>> profile = BuildProfile(options, tier);
    if (!profile.ok()) {
      why += (why.empty() ? "" : "; ") + profile.status().message();
      logger.Debug(Str("sandbox tier=", tier, " unusable: ", profile.status().message()));
      continue;
    }
    if (tier == "C") logger.Warn(kTierCWarning);
    std::shared_ptr<const SandboxProfile> shared = std::move(profile).value();
    logger.Info(Str("sandbox tier=", tier, tier == "A" ? " backend=" + shared->backend : "",
                    " mode=", options.mode, " python=", options.python,
                    " cgroup=", shared->cgroups ? shared->cgroups->Describe() : "none"));
    if (options.mode == "forkserver") return MakeForkServer(shared, options, logger);
    return std::unique_ptr<Executor>(new FreshExecutor(shared));
  }
  return Status::FailedPrecondition("sandbox: no usable tier (" + why + ")" +
                                    (options.allow_tier_c ? "" : "; tier C was not allowed"));
}

std::vector<TierProbe> ProbeTiers(const SandboxOptions& options) {
  std::vector<TierProbe> out;
  for (const char* tier : {"A", "B", "C"}) {
    TierProbe p{tier, false, ""};
    auto profile = BuildProfile(options, tier);
    p.usable = profile.ok();
    if (!profile.ok()) {
      p.detail = profile.status().message();
    } else {
      p.detail = "cgroup: " + ((*profile)->cgroups ? (*profile)->cgroups->Describe() : "none");
      if (std::string(tier) == "A") {
        p.detail += ", backend " + (*profile)->backend;
        if (!(*profile)->backend_note.empty()) p.detail += " (" + (*profile)->backend_note + ")";
      }
      if (std::string(tier) == "B")
        p.detail += ", Landlock ABI " + std::to_string(LandlockAbiVersion());
      if (std::string(tier) == "C") p.detail += ", only with --allow-tier-c";
    }
    out.push_back(p);
  }
  return out;
}

Result<std::vector<std::string>> ImportablePackages(const SandboxOptions& options,
                                                    const std::vector<std::string>& candidates) {
  SandboxOptions fresh = options;
  fresh.mode = "fresh";
  CS_ASSIGN_OR_RETURN(std::unique_ptr<Executor> executor, MakeSandbox(fresh, Logger::Null()));
  std::vector<std::string> out;
  for (const std::string& name : candidates) {
    ExecRequest request;
    request.code = "import importlib\nm = importlib.import_module('" + name +
                   "')\nprint(getattr(m, '__version__', ''))\n";
    CS_ASSIGN_OR_RETURN(ExecResult r, executor->Run(request));
    if (r.status != ExecStatus::kOk) continue;
    std::string version = r.stdout_text.substr(0, r.stdout_text.find('\n'));
    out.push_back(version.empty() ? name : name + " " + version);
  }
  return out;
}

}  // namespace codesweep
