// ExecStatusName and ParseExecLimits: the value side of the sandbox contract.
#include <nlohmann/json.hpp>
#include <string>

#include "jobs/sandbox/sandbox.h"

namespace codesweep {

std::string_view ExecStatusName(ExecStatus s) {
  switch (s) {
    case ExecStatus::kOk:
      return "ok";
    case ExecStatus::kError:
      return "error";
    case ExecStatus::kTimeout:
      return "timeout";
    case ExecStatus::kMemory:
      return "memory";
    case ExecStatus::kKilled:
      return "killed";
    case ExecStatus::kOutputLimit:
      return "output_limit";
    case ExecStatus::kRefused:
      return "refused";
  }
  return "unknown";
}

namespace {

// The documented range of every limit (docs/operations.md, "Limits and ranges"). The upper
// bounds keep deadline arithmetic (now + wall_ms, wall_ms + 1000) far from overflow.
constexpr int64_t kDay = 86'400'000;
constexpr int64_t kTiB = 1LL << 40;
constexpr ExecLimitRange kRanges[] = {
    {"wall_ms", 1, kDay},
    {"cpu_ms", 1, kDay},
    {"memory_bytes", 1LL << 20, kTiB},
    {"max_processes", 1, 65'536},
    {"max_file_bytes", 1, kTiB},
    {"tmp_bytes", 1, kTiB},
    {"keep_output_bytes", 1, 1LL << 30},
    {"kill_output_bytes", 1, 1LL << 34},
};

int64_t* FieldFor(ExecLimits& limits, const std::string& key) {
  if (key == "wall_ms") return &limits.wall_ms;
  if (key == "cpu_ms") return &limits.cpu_ms;
  if (key == "memory_bytes") return &limits.memory_bytes;
  if (key == "max_processes") return &limits.max_processes;
  if (key == "max_file_bytes") return &limits.max_file_bytes;
  if (key == "tmp_bytes") return &limits.tmp_bytes;
  if (key == "keep_output_bytes") return &limits.keep_output_bytes;
  if (key == "kill_output_bytes") return &limits.kill_output_bytes;
  return nullptr;
}

}  // namespace

const ExecLimitRange* FindExecLimitRange(std::string_view key) {
  for (const ExecLimitRange& r : kRanges) {
    if (r.key == key) return &r;
  }
  return nullptr;
}

Result<ExecLimits> ParseExecLimits(std::string_view json, const ExecLimits& defaults) {
  ExecLimits limits = defaults;
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::InvalidArgument("sandbox limits: not valid JSON");
  if (!doc.is_object()) return Status::InvalidArgument("sandbox limits: expected a JSON object");
  bool cpu_given = doc.contains("cpu_ms");
  for (const auto& [key, value] : doc.items()) {
    int64_t* field = FieldFor(limits, key);
    if (field == nullptr) return Status::InvalidArgument("sandbox limits: unknown key " + key);
    if (!value.is_number_integer() && !value.is_number_unsigned()) {
      return Status::InvalidArgument("sandbox limits: " + key + " must be an integer");
    }
    const ExecLimitRange* range = FindExecLimitRange(key);
    bool huge = value.is_number_unsigned() && value.get<uint64_t>() > INT64_MAX;
    int64_t v = huge ? INT64_MAX : value.get<int64_t>();
    if (v < range->min || v > range->max) {
      return Status::InvalidArgument("sandbox limits: " + key + " must be between " +
                                     std::to_string(range->min) + " and " +
                                     std::to_string(range->max));
    }
    *field = v;
  }
  // CPU follows wall (wall + 1 s) unless it was given explicitly.
  if (!cpu_given && doc.contains("wall_ms")) limits.cpu_ms = limits.wall_ms + 1000;
  return limits;
}

}  // namespace codesweep
