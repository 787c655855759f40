// TEMPORARY stub: replaced by the real `codesweep show`.
#include <cstdio>

#include "tools/codesweep/commands.h"

namespace codesweep {
CommandAction SetupShowCommand(CLI::App&) {
  return [] {
    std::fprintf(stderr, "codesweep show: not built yet\n");
    return 2;
  };
}
}  // namespace codesweep
