// DispatchLanes: which pending job a free worker slot gets when jobs of several rate-limit
// buckets compete for the slots. A job whose bucket would make its CALL wait (calls already
// queued, leased jobs on their way, an empty bucket) is set aside in its bucket's lane while a
// job of a bucket that can grant soon takes the slot; so one model's waiting jobs do not fill the
// slots another model's jobs could use. Among the buckets that can grant soon, the one with the
// most work left (its pending jobs priced at its limits) goes first: it sets when the sweep ends,
// and a slot given to a bucket with time to spare while it could have used it costs the sweep
// that much at its end (docs/ratelimit.md, "Slots across models"). With fewer than two buckets
// known it only passes the dispatch buffer through. Owned by CoordinatorCore; used only from
// the coordinator thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "coordinator/ratelimit/call_broker.h"
#include "coordinator/ratelimit/rate_limiter.h"
#include "coordinator/store/store.h"

namespace codesweep {

class DispatchLanes {
 public:
  // A job is leased in its turn while its CALL would wait at most this long for the grant.
  static constexpr int64_t kLeaseAheadMs = 50;

  // How often the unfinished jobs per variant are read again while two buckets compete.
  static constexpr int64_t kRecountMs = 1'000;
  // Unfinished (pending or leased) jobs per variant id; called at most every kRecountMs.
  using CountUnfinished = std::function<Result<std::vector<std::pair<int64_t, int64_t>>>()>;

  // `max_deferred`: rows set aside at most (past it they stay pending in the store and are read
  // again later); it bounds memory like the dispatch page. `count`: the work left per variant
  // (empty: none known, every bucket that grants soon is equal).
  DispatchLanes(const CallBroker& broker, const Clock& clock, int max_deferred,
                CountUnfinished count = {});

  // A CALL of `job`, a job of `variant`, reached the coordinator: the variant's jobs use
  // `bucket` (the first bucket seen for it); the job is no longer on its way.
  void OnCall(int64_t job, int64_t variant, const BucketKey& bucket);
  // `job` of `variant` was leased: until its CALL arrives it counts as a call ahead in its lane.
  void OnLeased(int64_t job, int64_t variant);
  // The lease of `job` ended (result, requeue, lost worker).
  void OnLeaseEnded(int64_t job);
  // The pending jobs are read again from the store: the rows set aside are dropped.
  void Clear();

  // The next row to lease. Of the buckets whose next call would be granted within
  // kLeaseAheadMs, the one with the longest drain (its jobs not yet leased, at its limits:
  // RateLimiter::WaitMs) gets it: a set-aside row of its lane, else the first of `buffer`
  // (refilled by `refill`, false when the store has no more) of its lane. Without such a bucket
  // (no work left known), the first row whose bucket grants within kLeaseAheadMs. Else a
  // set-aside row of the bucket that grants soonest. Rows of other buckets met on the way are set
  // aside; a row of a bucket not known yet (no CALL of its variant seen) goes at once. Reads at
  // most `scan_limit` rows; `*exhausted` is set when it read them all without finding one that
  // goes in its turn (the caller then waits before reading the store again). nullopt: nothing
  // pending.
  std::optional<JobRow> Pick(std::deque<JobRow>& buffer, const std::function<bool()>& refill,
                             int scan_limit, bool* exhausted);

  int lanes() const { return static_cast<int>(lanes_.size()); }
  int64_t deferred() const { return static_cast<int64_t>(deferred_ids_.size()); }

 private:
  struct Lane {
    BucketKey bucket;
    int64_t on_the_way = 0;   // leased jobs whose first CALL has not arrived
    int64_t leased = 0;       // leased jobs of the lane (its CALL seen or its variant known)
    int64_t unfinished = 0;   // its variants' unfinished jobs at the last count
    int64_t ended = 0;        // leases ended since that count
    std::deque<JobRow> rows;  // set aside, oldest first
  };
  int LaneOf(int64_t variant) const;  // -1: not known (no CALL of the variant seen yet)
  int64_t WaitMs(int lane) const;
  int SoonestSetAside() const;  // the lane with rows set aside whose grant comes first; -1: none
  // The lane that grants within kLeaseAheadMs with the longest drain of its jobs not leased;
  // -1: none (nothing known to be left, or no lane grants soon).
  int MostWorkLeft() const;
  int64_t Left(int lane) const;  // its jobs neither leased nor ended since the last count
  void Recount();                // the unfinished jobs per lane, at most every kRecountMs
  void CountLeased(int64_t job, int lane);
  JobRow TakeFrom(int lane);

  const CallBroker& broker_;
  const Clock& clock_;
  const int max_deferred_;
  CountUnfinished count_;
  std::vector<Lane> lanes_;
  std::map<BucketKey, int> lane_index_;
  std::unordered_map<int64_t, int> variant_lane_;
  std::unordered_map<int64_t, int64_t> unfinished_;  // variant -> jobs, at the last count
  bool counted_ = false;
  SteadyTime counted_at_{};
  std::unordered_map<int64_t, int> on_the_way_;  // job -> lane
  std::unordered_map<int64_t, int> leased_;      // job -> lane
  std::unordered_set<int64_t> deferred_ids_;     // jobs in some lane's rows
};

}  // namespace codesweep
