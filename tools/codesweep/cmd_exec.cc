// TEMPORARY stub: replaced by the real `codesweep exec`.
#include <cstdio>

#include "tools/codesweep/commands.h"

namespace codesweep {
CommandAction SetupExecCommand(CLI::App&) {
  return [] {
    std::fprintf(stderr, "codesweep exec: not built yet\n");
    return 2;
  };
}
}  // namespace codesweep
