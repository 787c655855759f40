// Distinct id types so a JobId cannot be passed where a LeaseToken is meant. Plain values.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <utility>

namespace codesweep {

template <typename Tag, typename T>
class StrongId {
 public:
  StrongId() = default;
  explicit StrongId(T v) : v_(std::move(v)) {}
  const T& value() const { return v_; }
  auto operator<=>(const StrongId&) const = default;
  friend std::ostream& operator<<(std::ostream& os, const StrongId& id) { return os << id.v_; }

 private:
  T v_{};
};

using JobId = StrongId<struct JobIdTag, int64_t>;            // row id of a job (one per cell)
using LeaseToken = StrongId<struct LeaseTokenTag, int64_t>;  // fencing token, monotonic
using WorkerId = StrongId<struct WorkerIdTag, std::string>;  // chosen by the worker at start
using CellKey = StrongId<struct CellKeyTag, std::string>;    // hex SHA-256 of the cell identity
using CallKey = StrongId<struct CallKeyTag, std::string>;    // hex SHA-256 of the LLM request

}  // namespace codesweep

template <typename Tag, typename T>
struct std::hash<codesweep::StrongId<Tag, T>> {
  size_t operator()(const codesweep::StrongId<Tag, T>& id) const {
    return std::hash<T>()(id.value());
  }
};
