// Run directories for tiers B and C: a private directory holding main.py (read-only) and the
// scratch directory the code runs in. RemoveTree deletes without following symlinks, so a link
// planted by the code never takes host files with it. Free functions; any thread.
#pragma once

#include <string>

#include "base/status.h"

namespace codesweep {

struct RunDir {
  std::string root;     // removed with everything below it
  std::string code;     // root/main.py
  std::string scratch;  // root/scratch, the code's cwd
};

// Creates a run directory under `parent` holding `code`; owned by uid/gid when they are >= 0.
Result<RunDir> MakeRunDir(const std::string& parent, const std::string& code, int uid, int gid);

// Removes `path` and everything below it; symlinks are unlinked, never followed.
Status RemoveTree(const std::string& path);

}  // namespace codesweep
