// TEMPORARY stub: replaced by the real `codesweep tasks`.
#include <cstdio>

#include "tools/codesweep/commands.h"

namespace codesweep {
CommandAction SetupTasksCommand(CLI::App&) {
  return [] {
    std::fprintf(stderr, "codesweep tasks: not built yet\n");
    return 2;
  };
}
}  // namespace codesweep
