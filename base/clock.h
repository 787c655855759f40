// Clock: the seam for time. Production code uses SystemClock; unit tests inject FakeClock.
// Both are safe to call from any thread. Now() is monotonic (steady); WallMs() is Unix time in ms,
// used only for values written to the database.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace codesweep {

using SteadyTime = std::chrono::steady_clock::time_point;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime Now() const = 0;
  virtual int64_t WallMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  SteadyTime Now() const override { return std::chrono::steady_clock::now(); }
  int64_t WallMs() const override {
    return std::chrono::duration_cast<Millis>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that moves only when told to.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t wall_ms = 1'700'000'000'000) : wall_ms_(wall_ms) {}
  SteadyTime Now() const override { return SteadyTime(Millis(offset_ms_.load())); }
  int64_t WallMs() const override { return wall_ms_ + offset_ms_.load(); }
  void Advance(Millis d) { offset_ms_ += d.count(); }

 private:
  int64_t wall_ms_;
  std::atomic<int64_t> offset_ms_{0};
};

}  // namespace codesweep
