#include "tools/codesweep/cli_common.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace codesweep {

int PrintError(const std::string& command, const Status& status, int exit_code) {
  std::fprintf(stderr, "codesweep %s: %s\n", command.c_str(), status.message().c_str());
  return exit_code;
}

std::string ResolveDataDir(const std::string& flag_value) {
  if (!flag_value.empty()) return flag_value;
  if (const char* env = std::getenv("CODESWEEP_DATA_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return DefaultDataDir();
}

Result<std::unique_ptr<TaskRegistry>> LoadTasks(const std::string& data_dir_flag) {
  return TaskRegistry::Create(ResolveDataDir(data_dir_flag));
}

std::string DefaultDbPath(const std::string& sweep_path) {
  return std::filesystem::path(sweep_path).stem().string() + ".db";
}

}  // namespace codesweep
