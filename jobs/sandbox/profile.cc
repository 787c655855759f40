// Plan builders shared by the fresh and fork-server modes.
#include "jobs/sandbox/profile.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace codesweep {

bool CanSwitchToNobody() {
  if (geteuid() != 0) return false;
  for (const char* map : {"/proc/self/uid_map", "/proc/self/gid_map"}) {
    FILE* f = std::fopen(map, "re");
    if (f == nullptr) return false;
    long long inside = 0, outside = 0, count = 0;
    bool mapped = false;
    while (std::fscanf(f, "%lld %lld %lld", &inside, &outside, &count) == 3) {
      mapped |= inside <= kNobody && kNobody < inside + count;
    }
    std::fclose(f);
    if (!mapped) return false;
  }
  return true;
}

void RunAsNobody(const SandboxProfile& profile, ChildPlan& plan) {
  plan.drop_privileges = profile.run_as_nobody;
  plan.run_uid = kNobody;
  plan.run_gid = kNobody;
}

std::vector<std::string> TierAEtcPaths() {
  std::vector<std::string> out = {"/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives",
                                  "/etc/python3", "/etc/matplotlibrc"};
  glob_t g{};
  if (glob("/etc/python3.*", 0, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  }
  globfree(&g);
  std::vector<std::string> existing;
  struct stat st;
  for (const std::string& p : out) {
    if (stat(p.c_str(), &st) == 0) existing.push_back(p);
  }
  return existing;
}

namespace {

bool EndsWithMemoryError(const std::string& err) {
  size_t end = err.find_last_not_of("\n\r ");
  if (end == std::string::npos) return false;
  size_t start = err.rfind('\n', end);
  start = start == std::string::npos ? 0 : start + 1;
  return err.compare(start, 11, "MemoryError") == 0;
}

}  // namespace

std::vector<std::string> SandboxEnv(const std::string& home, const std::string& tmp,
                                    const std::string& label) {
  std::vector<std::string> env = {"PATH=/usr/local/bin:/usr/bin:/bin",
                                  "HOME=" + home,
                                  "TMPDIR=" + tmp,
                                  "LANG=C.UTF-8",
                                  "LC_ALL=C.UTF-8",
                                  "OPENBLAS_NUM_THREADS=1",
                                  "OMP_NUM_THREADS=1",
                                  "MKL_NUM_THREADS=1",
                                  "NUMEXPR_NUM_THREADS=1"};
  if (!label.empty()) env.push_back("CODESWEEP_SANDBOX=" + label);
  return env;
}

ChildLimits LimitsFor(const ExecLimits& limits, bool have_cgroup) {
  ChildLimits c;
  c.cpu_seconds = (limits.cpu_ms + 999) / 1000;
  c.address_space = have_cgroup ? limits.memory_bytes + (1LL << 30) : limits.memory_bytes;
  c.file_bytes = limits.max_file_bytes;
  c.open_files = 256;
  c.processes = have_cgroup ? 0 : limits.max_processes;
  return c;
}

std::vector<std::string> BwrapArgs(const SandboxProfile& profile, const ExecLimits& limits,
                                   const std::vector<std::pair<int, std::string>>& files,
                                   int seccomp_fd, int status_fd,
                                   const std::vector<std::string>& inner) {
  std::vector<std::string> a = {profile.bwrap,
                                "--unshare-user",
                                "--unshare-ipc",
                                "--unshare-pid",
                                "--unshare-net",
                                "--unshare-uts",
                                "--unshare-cgroup-try",
                                "--disable-userns",
                                "--die-with-parent",
                                "--new-session",
                                "--cap-drop",
                                "ALL",
                                "--uid",
                                "65534",
                                "--gid",
                                "65534",
                                "--hostname",
                                "sandbox",
                                "--ro-bind",
                                "/usr",
                                "/usr"};
  for (const char* top : {"/bin", "/lib", "/lib64", "/lib32", "/sbin"}) {
    char target[PATH_MAX];
    ssize_t n = readlink(top, target, sizeof(target) - 1);
    struct stat st;
    if (n > 0) {
      a.insert(a.end(), {"--symlink", std::string(target, n), top});
    } else if (stat(top, &st) == 0 && S_ISDIR(st.st_mode)) {
      a.insert(a.end(), {"--ro-bind", top, top});
    }
  }
  std::string prefix = std::filesystem::path(profile.python).parent_path().parent_path();
  if (prefix != "/usr" && prefix != "/") a.insert(a.end(), {"--ro-bind", prefix, prefix});
  for (const std::string& p : TierAEtcPaths()) a.insert(a.end(), {"--ro-bind-try", p, p});
  std::string tmp_size = std::to_string(limits.tmp_bytes);
  a.insert(a.end(), {"--proc", "/proc", "--dev", "/dev", "--size", tmp_size, "--tmpfs", "/tmp",
                     "--size", tmp_size, "--tmpfs", "/scratch"});
  for (const auto& [fd, path] : files) {
    a.insert(a.end(), {"--ro-bind-data", std::to_string(fd), path});
  }
  a.insert(a.end(),
           {"--remount-ro", "/", "--chdir", "/scratch", "--seccomp", std::to_string(seccomp_fd),
            "--json-status-fd", std::to_string(status_fd), "--"});
  a.insert(a.end(), inner.begin(), inner.end());
  return a;
}

ExecResult Classify(RawRun raw, const std::string& tier, const RunCgroup* cgroup,
                    const ExecLimits& limits) {
  ExecResult r;
  r.tier = tier;
  r.wall_ms = raw.wall_ms;
  auto ms = [](const timeval& tv) { return tv.tv_sec * 1000LL + tv.tv_usec / 1000; };
  r.cpu_ms = ms(raw.usage.ru_utime) + ms(raw.usage.ru_stime);
  r.peak_rss_kb = raw.usage.ru_maxrss;
  if (cgroup != nullptr) r.peak_rss_kb = std::max(r.peak_rss_kb, cgroup->PeakBytes() / 1024);
  int st = raw.wait_status;
  if (WIFEXITED(st)) {
    r.exit_code = WEXITSTATUS(st);
  } else if (WIFSIGNALED(st)) {
    r.signal = WTERMSIG(st);
    r.exit_code = 128 + r.signal;
  }
  bool oom = (cgroup != nullptr && cgroup->OomKilled()) || EndsWithMemoryError(raw.stderr_text);
  bool cpu_limit = r.signal == SIGXCPU || (r.signal == SIGKILL && r.cpu_ms >= limits.cpu_ms);
  if (raw.output_killed) {
    r.status = ExecStatus::kOutputLimit;
  } else if (raw.timed_out) {
    r.status = ExecStatus::kTimeout;
  } else if (oom) {
    r.status = ExecStatus::kMemory;
  } else if (cpu_limit) {
    r.status = ExecStatus::kTimeout;
  } else if (r.signal != 0) {
    r.status = ExecStatus::kKilled;
  } else if (r.exit_code != 0) {
    r.status = ExecStatus::kError;
  } else {
    r.status = ExecStatus::kOk;
  }
  r.stdout_text = std::move(raw.stdout_text);
  r.stderr_text = std::move(raw.stderr_text);
  r.stdout_truncated = raw.stdout_truncated;
  r.stderr_truncated = raw.stderr_truncated;
  return r;
}

Result<UniqueFd> MemFdWith(const char* name, const std::string& data) {
  UniqueFd fd(memfd_create(name, MFD_CLOEXEC));
  if (!fd.valid()) return Status::IoError(std::string("memfd_create: ") + std::strerror(errno));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::IoError(std::string("memfd write: ") + std::strerror(errno));
    done += n;
  }
  lseek(fd.get(), 0, SEEK_SET);
  return fd;
}

}  // namespace codesweep
