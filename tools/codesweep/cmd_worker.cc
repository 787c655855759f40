// TEMPORARY stub: replaced by the real `codesweep worker`.
#include <cstdio>

#include "tools/codesweep/commands.h"

namespace codesweep {
CommandAction SetupWorkerCommand(CLI::App&) {
  return [] {
    std::fprintf(stderr, "codesweep worker: not built yet\n");
    return 2;
  };
}
}  // namespace codesweep
