// TEMPORARY stub: replaced by the real `codesweep status`.
#include <cstdio>

#include "tools/codesweep/commands.h"

namespace codesweep {
CommandAction SetupStatusCommand(CLI::App&) {
  return [] {
    std::fprintf(stderr, "codesweep status: not built yet\n");
    return 2;
  };
}
}  // namespace codesweep
