// TEMPORARY stub: replaced by the real `codesweep cache`.
#include <cstdio>

#include "tools/codesweep/commands.h"

namespace codesweep {
CommandAction SetupCacheCommand(CLI::App&) {
  return [] {
    std::fprintf(stderr, "codesweep cache: not built yet\n");
    return 2;
  };
}
}  // namespace codesweep
