// TEMPORARY stub: replaced by the real `codesweep validate`.
#include <cstdio>

#include "tools/codesweep/commands.h"

namespace codesweep {
CommandAction SetupValidateCommand(CLI::App&) {
  return [] {
    std::fprintf(stderr, "codesweep validate: not built yet\n");
    return 2;
  };
}
}  // namespace codesweep
