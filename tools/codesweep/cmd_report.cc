// TEMPORARY stub: replaced by the real `codesweep report`.
#include <cstdio>

#include "tools/codesweep/commands.h"

namespace codesweep {
CommandAction SetupReportCommand(CLI::App&) {
  return [] {
    std::fprintf(stderr, "codesweep report: not built yet\n");
    return 2;
  };
}
}  // namespace codesweep
