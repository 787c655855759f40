// Run directories for tiers B and C: a private directory holding main.py (read-only) and the
// scratch directory the code runs in. RemoveTree deletes without following symlinks, so a link
// planted by the code never takes host files with it. While a run may use its directory, the
// worker (and the run's monitor) hold a shared flock on it; RemoveStaleRunDirs, run at start,
// removes the directories of runs whose worker and monitor are both gone. Free functions; any
// thread.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "jobs/sandbox/fd.h"

namespace codesweep {

struct RunDir {
  std::string root;     // removed with everything below it
  std::string code;     // root/main.py
  std::string scratch;  // root/scratch, the code's cwd
  UniqueFd hold;        // root, with a shared flock: the directory is in use
};

// Creates a run directory under `parent` holding `code`; owned by uid/gid when they are >= 0.
Result<RunDir> MakeRunDir(const std::string& parent, const std::string& code, int uid, int gid);

// Removes `path` and everything below it; symlinks are unlinked, never followed.
Status RemoveTree(const std::string& path);

// Removes the run directories under `parent` that nobody holds and that are older than
// `min_age_s` (a directory is held from just after its creation). Returns how many it removed.
int RemoveStaleRunDirs(const std::string& parent, int64_t min_age_s = 60);

}  // namespace codesweep
