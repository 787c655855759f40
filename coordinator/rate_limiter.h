// RateLimiter: the seam where the cluster-wide rate budget (issue 6) plugs into the coordinator.
// The coordinator asks TryAcquire for every uncached CALL and retries refused calls on its timer;
// CALL_RESULT reports actual usage. Called only from the coordinator thread.
// ImmediateRateLimiter grants everything at once (until the token-bucket limiter lands).
#pragma once

#include <cstdint>

#include "schema/messages.h"

namespace codesweep {

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // True: the call may go now (the coordinator sends GRANT{go}). False: ask again later.
  virtual bool TryAcquire(const CallMsg& call, int64_t now_ms) = 0;
  // Actual usage and status of a finished call (corrects estimates, drives back-off).
  virtual void OnResult(const CallResultMsg& result, int64_t now_ms) = 0;
};

class ImmediateRateLimiter final : public RateLimiter {
 public:
  bool TryAcquire(const CallMsg&, int64_t) override { return true; }
  void OnResult(const CallResultMsg&, int64_t) override {}
};

}  // namespace codesweep
