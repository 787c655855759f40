#include "tools/codesweep/cli_common.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "build_info.h"

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

// ---- read commands ----

void AddReadDbOptions(CLI::App& sub, ReadDb* target, bool positional) {
  if (positional) {
    sub.add_option("sweep_file", target->sweep_file,
                   "Sweep file: read the database `run` uses for it (<stem>.db here)");
  }
  sub.add_option("--db", target->db, "Database file (default: the sweep file's, as `run`)");
}

Result<std::string> ResolveReadDb(const ReadDb& target) {
  std::string path = target.db;
  const std::string ext = std::filesystem::path(target.sweep_file).extension().string();
  if (path.empty() && (ext == ".db" || ext == ".sqlite")) path = target.sweep_file;
  if (path.empty() && !target.sweep_file.empty()) path = DefaultDbPath(target.sweep_file);
  if (path.empty()) return Status::InvalidArgument("give a sweep file or --db FILE");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    std::string why = path + ": no such file";
    if (target.db.empty()) why += " (the database of " + target.sweep_file + "; or give --db FILE)";
    return Status::NotFound(why);
  }
  return path;
}

void AddReadFilterOptions(CLI::App& sub, ReadFilter* filter) {
  sub.add_option("--task", filter->task, "Only these tasks (comma-separated)");
  sub.add_option("--model", filter->model,
                 "Only these models: id (openai:gpt-4o) or name (gpt-4o), comma-separated");
  sub.add_option("--method", filter->method, "Only these methods (comma-separated)");
}

std::string VersionString() {
  std::string commit = CODESWEEP_GIT_COMMIT;
  return std::string(CODESWEEP_VERSION) + (commit.empty() ? "" : " (git " + commit + ")");
}

}  // namespace codesweep
