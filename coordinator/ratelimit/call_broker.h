// CallBroker: the coordinator's CALL/GRANT side. It answers a CALL from the call cache, shares it
// with an identical call already in flight, grants it through the RateLimiter, or queues it (FIFO
// per bucket, granted round-robin on Tick). It loads sweep limits into the limiter and writes the
// live snapshot. It never talks to peers: every GRANT goes to an outbox the owner drains. Owned by
// CoordinatorCore; single-threaded (the coordinator loop, or a unit test with a FakeClock).
#pragma once

#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "coordinator/ratelimit/rate_limiter.h"
#include "coordinator/store/store.h"
#include "schema/messages.h"

namespace codesweep {

// One message for one peer (ZeroMQ routing id).
struct Outgoing {
  std::string peer;
  Message msg;
};

class CallBroker {
 public:
  // `use_cache` false (--no-cache): no call is answered from the cache or from a shared call.
  CallBroker(Store& store, const Clock& clock, RateLimiter& limiter, bool use_cache);
  ~CallBroker();
  CallBroker(const CallBroker&) = delete;
  CallBroker& operator=(const CallBroker&) = delete;

  // Reads every sweep's model limits into the limiter; unless `force`, at most every 2 s. The
  // first call also seeds the limiter with the token ratios earlier runs stored (rate_limits).
  [[nodiscard]] Status LoadLimits(bool force);
  // A CALL from `peer`: GRANT{cached} from the cache, follow an identical call in flight,
  // GRANT{go}, or wait in its bucket's queue.
  [[nodiscard]] Status OnCall(const std::string& peer, const CallMsg& m);
  // A granted call finished: usage to the limiter, a good response to the cache, followers
  // answered.
  [[nodiscard]] Status OnCallResult(const CallResultMsg& m);
  // Grants queued calls whose bucket has room, one per bucket per pass.
  [[nodiscard]] Status GrantWaiting();
  // `peer` is gone: its queued calls are dropped, its granted ones released (followers move on).
  [[nodiscard]] Status DropPeer(const std::string& peer);
  // Live limiter state (with queue lengths) to the rate_limits table.
  [[nodiscard]] Status Snapshot();

  // Milliseconds until a queued call may be granted (clamped to [1, 50]), or `cap` when none waits.
  int64_t NextWakeMs(int64_t cap) const;
  int64_t queued() const { return queued_; }
  // Estimated ms until a new CALL of `key` would be granted, behind the calls queued for it and
  // `ahead` more on their way (leased jobs that have not sent their CALL yet); 0 when none of
  // those waits (a new call then keeps the bucket busy). DispatchLanes.
  int64_t GrantWaitMs(const BucketKey& key, int64_t ahead) const;
  // True while `peer` has a call here: queued, following another, or granted and not reported.
  bool HasCallsOf(const std::string& peer) const;
  std::vector<Outgoing> TakeOutbox();
  // Store writes since the last call (the owner counts them towards its group commit).
  int TakeWrites();

 private:
  struct WaitingCall {
    std::string peer;
    CallMsg call;
  };
  struct InFlightCall {
    int64_t job = 0, lease = 0;          // the granted CALL's job (a re-sent CALL matches it)
    std::string peer;                    // who was granted the call
    std::vector<WaitingCall> followers;  // same call key: answered from its result
  };

  bool TryGrant(const std::string& peer, const CallMsg& m);
  Status EndInFlight(const std::string& call_key, const CallResultMsg* result);
  void Grant(const std::string& peer, const std::string& call_key, bool cached,
             std::string response_json);
  int64_t NowMs() const { return clock_.WallMs(); }
  // One line to the CODESWEEP_RATE_TRACE file (when set): event, bucket state after it.
  void Trace(const char* event, const BucketKey& key, int64_t a, int64_t b);

  Store& store_;
  const Clock& clock_;
  RateLimiter& limiter_;
  const bool use_cache_;

  std::map<BucketKey, std::deque<WaitingCall>> queues_;      // refused calls, FIFO per bucket
  std::map<BucketKey, int64_t> ready_ms_;                    // when to ask the limiter again
  std::unordered_map<std::string, InFlightCall> in_flight_;  // call key -> granted call
  std::set<BucketKey> limits_known_;
  SteadyTime limits_loaded_{};
  bool seeded_ = false;  // learned token ratios read from the store
  int64_t queued_ = 0;
  int writes_ = 0;
  std::vector<Outgoing> outbox_;
  std::FILE* trace_ = nullptr;
};

}  // namespace codesweep
