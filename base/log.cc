#include "base/log.h"

#include <chrono>
#include <ctime>

namespace codesweep {

namespace {
const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarn:
      return "WARN";
    case LogLevel::kError:
      return "ERROR";
    case LogLevel::kOff:
      return "OFF";
  }
  return "?";
}
}  // namespace

void Logger::Log(LogLevel level, std::string_view message) {
  if (!Enabled(level) || out_ == nullptr) return;
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  int ms = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::lock_guard<std::mutex> lock(mu_);
  std::fprintf(out_, "%s.%03dZ %s %s%s%.*s\n", stamp, ms, LevelName(level), component_.c_str(),
               component_.empty() ? "" : ": ", static_cast<int>(message.size()), message.data());
  std::fflush(out_);
}

Logger& Logger::Null() {
  static Logger null_logger(nullptr, LogLevel::kOff);
  return null_logger;
}

}  // namespace codesweep
