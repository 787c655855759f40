// Logger: the one logging facade. A Logger writes whole lines to a FILE* under a mutex, so any
// thread may log. It is passed in (never global). Convention: one INFO line per state transition,
// carrying key=value pairs such as job=, attempt=, worker=; nothing per loop iteration.
#pragma once

#include <cstdio>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>

namespace codesweep {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

class Logger {
 public:
  explicit Logger(std::FILE* out = stderr, LogLevel min_level = LogLevel::kInfo,
                  std::string component = "")
      : out_(out), min_level_(min_level), component_(std::move(component)) {}
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  bool Enabled(LogLevel level) const { return level >= min_level_; }
  void Log(LogLevel level, std::string_view message);
  void Debug(std::string_view m) { Log(LogLevel::kDebug, m); }
  void Info(std::string_view m) { Log(LogLevel::kInfo, m); }
  void Warn(std::string_view m) { Log(LogLevel::kWarn, m); }
  void Error(std::string_view m) { Log(LogLevel::kError, m); }
  void set_min_level(LogLevel level) { min_level_ = level; }

  // A logger that drops everything (for tests and quiet tools).
  static Logger& Null();

 private:
  std::FILE* out_;
  LogLevel min_level_;
  std::string component_;
  std::mutex mu_;
};

// Builds a message from streamable parts: Log(kInfo, Str("job=", id, " state=", s)).
template <typename... Args>
std::string Str(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

}  // namespace codesweep
