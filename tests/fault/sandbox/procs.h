// The host's view of a sandbox's processes for the sandbox fault tests: the processes of a run
// are found by the CODESWEEP_SANDBOX=<label> their environment carries (SandboxOptions::label).
// Reads /proc only; any thread.
#pragma once

#include <dirent.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace codesweep::testing {

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A live (not zombie) process.
inline bool Alive(int pid) {
  std::string stat = ReadAll("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

// Live pids whose environment carries CODESWEEP_SANDBOX=<label> and, if given, named `comm`.
inline std::vector<int> LabelledPids(const std::string& label, const std::string& comm = "") {
  std::vector<int> out;
  std::string needle = "CODESWEEP_SANDBOX=" + label;
  DIR* proc = opendir("/proc");
  while (dirent* e = proc ? readdir(proc) : nullptr) {
    int pid = atoi(e->d_name);
    if (pid <= 0) continue;
    std::string dir = "/proc/" + std::string(e->d_name);
    if (ReadAll(dir + "/environ").find(needle) == std::string::npos || !Alive(pid)) continue;
    if (comm.empty() || ReadAll(dir + "/comm") == comm + "\n") out.push_back(pid);
  }
  if (proc) closedir(proc);
  return out;
}

// The parent of `pid` (field 4 of its stat), 0 when it is gone.
inline int ParentPid(int pid) {
  std::string stat = ReadAll("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream rest(stat.substr(paren + 2));
  std::string state;
  int ppid = 0;
  rest >> state >> ppid;
  return ppid;
}

// `pid` as its own (innermost) pid namespace numbers it (the last field of NSpid), 0 if gone.
inline int InnermostPid(int pid) {
  std::string status = ReadAll("/proc/" + std::to_string(pid) + "/status");
  size_t at = status.find("\nNSpid:");
  if (at == std::string::npos) return 0;
  std::istringstream line(status.substr(at + 7, status.find('\n', at + 1) - at - 7));
  int last = 0;
  for (int n = 0; line >> n;) last = n;
  return last;
}

}  // namespace codesweep::testing
