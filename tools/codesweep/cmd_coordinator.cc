// TEMPORARY stub: replaced by the real `codesweep coordinator`.
#include <cstdio>

#include "tools/codesweep/commands.h"

namespace codesweep {
CommandAction SetupCoordinatorCommand(CLI::App&) {
  return [] {
    std::fprintf(stderr, "codesweep coordinator: not built yet\n");
    return 2;
  };
}
}  // namespace codesweep
