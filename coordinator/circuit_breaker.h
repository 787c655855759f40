// CircuitBreaker: stops sending a model's cells once they keep failing with the same permanent
// error (an auth error, "tools param requires --jinja flag"), so the rest of them fail fast with
// that message instead of each paying its own requests. One breaker per (model, error); it trips
// after `trip_after` cells failed with it, and then covers the model's variants (method, turns,
// settings) that failed with it, so a tool-only error does not stop the model's text methods.
// Owned by CoordinatorCore (single-threaded); state lives only as long as the coordinator.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "schema/types.h"

namespace codesweep {

class CircuitBreaker {
 public:
  explicit CircuitBreaker(int trip_after = 3) : trip_after_(trip_after) {}

  // A cell of `variant` (a setting of model `model`) finished with `outcome`. A permanent
  // failure counts against its (model, error) breaker; a verdict takes the variant out of every
  // breaker of the model. Returns true when this result tripped a breaker.
  bool OnResult(int64_t variant, const std::string& model, const Outcome& outcome);
  // The error a pending cell of `variant` should fail with instead of being sent, or nullopt.
  std::optional<std::string> Check(int64_t variant) const;

 private:
  struct Breaker {
    int failures = 0;            // permanent failures since the last verdict of its variants
    std::set<int64_t> variants;  // variants that failed with it
    bool tripped = false;
  };
  using Key = std::pair<std::string, std::string>;  // (model, error)

  int trip_after_;
  std::map<Key, Breaker> breakers_;
};

}  // namespace codesweep
