// TEMPORARY stub: replaced by the real `codesweep run`.
#include <cstdio>

#include "tools/codesweep/commands.h"

namespace codesweep {
CommandAction SetupRunCommand(CLI::App&) {
  return [] {
    std::fprintf(stderr, "codesweep run: not built yet\n");
    return 2;
  };
}
}  // namespace codesweep
