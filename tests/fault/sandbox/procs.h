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

}  // namespace codesweep::testing
