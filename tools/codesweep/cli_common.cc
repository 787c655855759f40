#include "tools/codesweep/cli_common.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "base/log.h"
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
  return TaskRegistry::CreateLazy(ResolveDataDir(data_dir_flag));
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

namespace {

// 'text' as a SQL string literal.
std::string SqlQuote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

std::string InList(const std::string& column, const std::vector<std::string>& values) {
  std::string out = column + " IN (";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + SqlQuote(values[i]);
  return out + ")";
}

// Splits "a,b" into names; empty names are refused.
Status AddNames(std::string_view flag, std::string_view value, std::vector<std::string>* out) {
  size_t start = 0;
  while (true) {
    size_t comma = value.find(',', start);
    std::string_view name =
        value.substr(start, comma == std::string_view::npos ? value.npos : comma - start);
    if (name.empty() || name.find('\0') != std::string_view::npos) {
      return Status::InvalidArgument(Str("--", flag, " needs a name (or a comma list of names)"));
    }
    out->emplace_back(name);
    if (comma == std::string_view::npos) return Status::OK();
    start = comma + 1;
  }
}

}  // namespace

void CellFilter::AddFlags(CLI::App& sub, CellFilter* filter) {
  for (const char* flag : {"task", "model", "method"}) {
    sub.add_option_function<std::vector<std::string>>(
           Str("--", flag),
           [filter, flag](const std::vector<std::string>& values) {
             for (const std::string& v : values) {
               Status s = filter->ParseFlag(flag, v);
               if (!s.ok()) throw CLI::ValidationError(s.message());
             }
           },
           Str("Only cells of this ", flag, " (repeat the flag or give a comma list)"))
        ->expected(1)
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  }
  sub.add_option_function<std::string>(
      "--limit",
      [filter](const std::string& v) {
        Status s = filter->ParseFlag("limit", v);
        if (!s.ok()) throw CLI::ValidationError(s.message());
      },
      "Only the first N samples of each task at each level (a quick trial)");
}

Status CellFilter::ParseFlag(std::string_view flag, std::string_view value) {
  if (flag == "task") return AddNames(flag, value, &tasks);
  if (flag == "model") return AddNames(flag, value, &models);
  if (flag == "method") return AddNames(flag, value, &methods);
  if (flag != "limit") return Status::InvalidArgument(Str("unknown filter --", flag));
  int64_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9' || n > (INT64_MAX - 9) / 10) {
      return Status::InvalidArgument(Str("--limit must be a positive integer, got '", value, "'"));
    }
    n = n * 10 + (c - '0');
  }
  if (n < 1) {
    return Status::InvalidArgument(Str("--limit must be a positive integer, got '", value, "'"));
  }
  limit = n;
  return Status::OK();
}

Status CellFilter::CheckAgainst(const SweepConfig& config) const {
  std::set<std::string> known_tasks, known_models,
      known_methods(config.methods.begin(), config.methods.end());
  for (const TaskConfig& t : config.tasks) known_tasks.insert(t.name);
  for (const ModelConfig& m : config.models) {
    known_models.insert(m.spec.id);
    known_models.insert(m.spec.name);
  }
  auto check = [](const char* what, const std::vector<std::string>& asked,
                  const std::set<std::string>& known) -> Status {
    for (const std::string& name : asked) {
      if (known.count(name)) continue;
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
      return Status::InvalidArgument(
          Str("the sweep has no ", what, " '", name, "' (it has: ", list, ")"));
    }
    return Status::OK();
  };
  CS_RETURN_IF_ERROR(check("task", tasks, known_tasks));
  CS_RETURN_IF_ERROR(check("model", models, known_models));
  return check("method", methods, known_methods);
}

std::string CellFilter::ToSqlWhere(const std::string& j,
                                   const std::map<std::string, int64_t>& first_samples) const {
  std::vector<std::string> parts;
  if (!tasks.empty()) parts.push_back(InList(j + ".task", tasks));
  if (!methods.empty()) parts.push_back(InList(j + ".method", methods));
  if (!models.empty()) {
    parts.push_back(j + ".variant_id IN (SELECT id FROM variants WHERE " + InList("model", models) +
                    " OR " + InList("model_name", models) + ")");
  }
  if (limit > 0) {
    std::string first = "0";
    if (!first_samples.empty()) {
      first = "CASE " + j + ".task";
      for (const auto& [task, s] : first_samples) {
        first += " WHEN " + SqlQuote(task) + " THEN " + std::to_string(s);
      }
      first += " ELSE 0 END";
    }
    parts.push_back(j + ".sample - (" + first + ") < " + std::to_string(limit));
  }
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "(" : " AND (") + p + ")";
  return out;
}

}  // namespace codesweep
