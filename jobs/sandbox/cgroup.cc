// cgroup v1/v2 adapter: file writes under /sys/fs/cgroup, nothing else.
#include "jobs/sandbox/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace codesweep {
namespace {

constexpr const char* kRoot = "/sys/fs/cgroup";

bool WriteFile(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  if (!out) return false;
  out << value;
  out.flush();
  return static_cast<bool>(out);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// This process's path in the hierarchy whose controller list contains `controller`
// ("" = the v2 line "0::").
std::string OwnPath(const std::string& controller) {
  std::istringstream lines(ReadFile("/proc/self/cgroup"));
  std::string line;
  while (std::getline(lines, line)) {
    size_t a = line.find(':');
    size_t b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string list = line.substr(a + 1, b - a - 1);
    std::istringstream names(list);
    std::string name;
    if (controller.empty() && list.empty()) return line.substr(b + 1);
    while (std::getline(names, name, ',')) {
      if (name == controller) return line.substr(b + 1);
    }
  }
  return "";
}

// Makes a private parent group `dir` (created here, removed at exit) with limits enabled below.
bool MakeParent(const std::string& dir, bool v2) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return false;
  if (v2 && !WriteFile(dir + "/cgroup.subtree_control", "+memory +pids")) {
    rmdir(dir.c_str());
    return false;
  }
  return true;
}

// SIGKILLs every process in the group `dir` (cgroup.kill on v2, else one by one) and waits
// (bounded) until it is empty.
void KillGroup(const std::string& dir, bool v2) {
  if (v2) WriteFile(dir + "/cgroup.kill", "1");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline) {
    std::istringstream pids(ReadFile(dir + "/cgroup.procs"));
    bool any = false;
    for (pid_t pid; pids >> pid;) {
      any = true;
      kill(pid, SIGKILL);
    }
    if (!any) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// A group under `base` is stale when no CgroupSupport holds it (its worker died, SIGKILL
// included) and the pid in its name is gone.
bool IsStale(const std::string& group, const std::string& name_pid) {
  UniqueFd fd(open(group.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || flock(fd.get(), LOCK_EX | LOCK_NB) != 0) return false;
  pid_t pid = static_cast<pid_t>(std::atol(name_pid.c_str()));
  return pid > 0 && kill(pid, 0) != 0 && errno == ESRCH;
}

// Kills what the runs of dead workers left under `base` (a worker killed with SIGKILL cannot)
// and removes their groups.
void RemoveStale(const std::string& base, bool v2) {
  const std::string prefix = "codesweep-sandbox-";
  DIR* dir = opendir(base.c_str());
  if (dir == nullptr) return;
  std::vector<std::string> stale;
  while (dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    if (IsStale(base + "/" + name, name.substr(prefix.size()))) stale.push_back(base + "/" + name);
  }
  closedir(dir);
  for (const std::string& group : stale) {
    if (DIR* runs = opendir(group.c_str())) {
      while (dirent* e = readdir(runs)) {
        if (std::string(e->d_name).compare(0, 4, "run-") != 0) continue;
        std::string run = group + "/" + e->d_name;
        KillGroup(run, v2);
        rmdir(run.c_str());
      }
      closedir(runs);
    }
    rmdir(group.c_str());
  }
}

}  // namespace

RunCgroup::~RunCgroup() {
  KillAll();
  for (const std::string& d : dirs_) {
    for (int i = 0; i < 50 && rmdir(d.c_str()) != 0 && errno == EBUSY; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
}

void RunCgroup::Init() {
  for (const std::string& d : dirs_) procs_files_.push_back(d + "/cgroup.procs");
}

void RunCgroup::KillAll() {
  for (const std::string& d : dirs_) KillGroup(d, v2_);
}

std::string RunCgroup::MemoryDir() const { return dirs_[0]; }

namespace {
int64_t OomKills(const std::string& dir, bool v2) {
  std::string text = ReadFile(dir + (v2 ? "/memory.events" : "/memory.oom_control"));
  size_t at = text.find("oom_kill ");
  return at == std::string::npos ? 0 : std::atoll(text.c_str() + at + 9);
}
}  // namespace

bool RunCgroup::OomKilled() const { return OomKills(MemoryDir(), v2_) > oom_base_; }

int64_t RunCgroup::PeakBytes() const {
  if (!peak_valid_) return 0;
  std::string text = ReadFile(MemoryDir() + (v2_ ? "/memory.peak" : "/memory.max_usage_in_bytes"));
  return text.empty() ? 0 : std::atoll(text.c_str());
}

Status RunCgroup::SetLimits(int64_t memory_bytes, int64_t max_processes) {
  if (memory_bytes == set_memory_ && max_processes == set_processes_) return Status::OK();
  set_memory_ = set_processes_ = -1;
  std::string mem = std::to_string(memory_bytes);
  bool ok = true;
  if (v2_) {
    ok &= WriteFile(dirs_[0] + "/memory.max", mem);
    WriteFile(dirs_[0] + "/memory.swap.max", "0");
    ok &= WriteFile(dirs_[0] + "/pids.max", std::to_string(max_processes));
  } else {
    // memsw must stay >= the memory limit: lower order depends on the direction.
    WriteFile(dirs_[0] + "/memory.memsw.limit_in_bytes", mem);
    ok &= WriteFile(dirs_[0] + "/memory.limit_in_bytes", mem);
    WriteFile(dirs_[0] + "/memory.memsw.limit_in_bytes", mem);
    ok &= WriteFile(dirs_[1] + "/pids.max", std::to_string(max_processes));
  }
  if (!ok) return Status::Unavailable("cgroup: cannot set limits");
  set_memory_ = memory_bytes;
  set_processes_ = max_processes;
  return Status::OK();
}

void RunCgroup::BeginRun() {
  oom_base_ = OomKills(MemoryDir(), v2_);
  peak_valid_ = !v2_ && WriteFile(MemoryDir() + "/memory.max_usage_in_bytes", "0");
}

CgroupSupport::CgroupSupport(std::vector<std::string> parents, bool v2)
    : parents_(std::move(parents)), v2_(v2) {
  for (const std::string& p : parents_) {
    UniqueFd fd(open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.valid()) flock(fd.get(), LOCK_SH);
    holds_.push_back(std::move(fd));
  }
}

CgroupSupport::~CgroupSupport() {
  for (const std::string& p : parents_) rmdir(p.c_str());
}

std::unique_ptr<CgroupSupport> CgroupSupport::Probe() {
  // Unique per CgroupSupport: a process may hold several (one per executor), and launcher
  // groups live as long as their executor.
  std::random_device random;
  std::string suffix = "/codesweep-sandbox-" + std::to_string(getpid()) + "-" +
                       std::to_string(static_cast<uint32_t>(random()));
  std::vector<std::string> parents;
  bool v2 = Exists(std::string(kRoot) + "/cgroup.controllers");
  if (v2) {
    // Our own group holds processes, so the private parent goes beside the root if need be.
    for (std::string base : {std::string(kRoot) + OwnPath(""), std::string(kRoot)}) {
      if (base.back() == '/') base.pop_back();
      WriteFile(base + "/cgroup.subtree_control", "+memory +pids");
      std::string ctl = ReadFile(base + "/cgroup.subtree_control");
      if (ctl.find("memory") == std::string::npos || ctl.find("pids") == std::string::npos)
        continue;
      RemoveStale(base, v2);
      if (MakeParent(base + suffix, true)) {
        parents.push_back(base + suffix);
        break;
      }
    }
  } else {
    for (const char* c : {"memory", "pids"}) {
      std::string base = std::string(kRoot) + "/" + c + OwnPath(c);
      if (base.back() == '/') base.pop_back();
      RemoveStale(base, v2);
      if (!Exists(base) || !MakeParent(base + suffix, false)) break;
      parents.push_back(base + suffix);
    }
    if (parents.size() != 2) {
      for (const std::string& p : parents) rmdir(p.c_str());
      parents.clear();
    }
  }
  if (parents.empty()) return nullptr;
  std::unique_ptr<CgroupSupport> support(new CgroupSupport(parents, v2));
  auto run = support->Create(64 << 20, 8);
  if (!run.ok()) return nullptr;
  return support;
}

Result<std::unique_ptr<RunCgroup>> CgroupSupport::Create(int64_t memory_bytes,
                                                         int64_t max_processes) {
  std::string name = "/run-" + std::to_string(next_.fetch_add(1));
  std::vector<std::string> dirs;
  for (const std::string& p : parents_) dirs.push_back(p + name);
  for (const std::string& d : dirs) {
    if (mkdir(d.c_str(), 0755) != 0) {
      for (const std::string& made : dirs) rmdir(made.c_str());
      return Status::Unavailable("cgroup: cannot create " + d);
    }
  }
  auto run = std::make_unique<RunCgroup>(dirs, v2_);
  run->Init();
  CS_RETURN_IF_ERROR(run->SetLimits(memory_bytes, max_processes));
  return run;
}

std::string CgroupSupport::Describe() const {
  std::string out = v2_ ? "v2" : "v1";
  for (const std::string& p : parents_) out += " " + p;
  return out;
}

}  // namespace codesweep
