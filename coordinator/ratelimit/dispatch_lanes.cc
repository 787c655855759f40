// DispatchLanes: slots go to the jobs whose bucket grants soonest once several buckets compete.
#include "coordinator/ratelimit/dispatch_lanes.h"

namespace codesweep {

DispatchLanes::DispatchLanes(const CallBroker& broker, int max_deferred)
    : broker_(broker), max_deferred_(max_deferred) {}

void DispatchLanes::OnCall(int64_t job, int64_t variant, const BucketKey& bucket) {
  auto way = on_the_way_.find(job);
  if (way != on_the_way_.end()) {
    --lanes_[way->second].on_the_way;
    on_the_way_.erase(way);
  }
  if (variant == 0 || variant_lane_.count(variant)) return;
  auto [it, added] = lane_index_.emplace(bucket, static_cast<int>(lanes_.size()));
  if (added) lanes_.push_back(Lane{bucket, 0, {}});
  variant_lane_[variant] = it->second;
}

void DispatchLanes::OnLeased(int64_t job, int64_t variant) {
  const int lane = LaneOf(variant);
  if (lane < 0 || !on_the_way_.emplace(job, lane).second) return;
  ++lanes_[lane].on_the_way;
}

void DispatchLanes::OnLeaseEnded(int64_t job) {
  auto way = on_the_way_.find(job);
  if (way == on_the_way_.end()) return;
  --lanes_[way->second].on_the_way;
  on_the_way_.erase(way);
}

void DispatchLanes::Clear() {
  for (Lane& lane : lanes_) lane.rows.clear();
  deferred_ids_.clear();
}

int DispatchLanes::LaneOf(int64_t variant) const {
  auto it = variant_lane_.find(variant);
  return it == variant_lane_.end() ? -1 : it->second;
}

int64_t DispatchLanes::WaitMs(int lane) const {
  return broker_.GrantWaitMs(lanes_[lane].bucket, lanes_[lane].on_the_way);
}

int DispatchLanes::SoonestSetAside() const {
  int best = -1;
  int64_t best_wait = 0;
  for (int i = 0; i < static_cast<int>(lanes_.size()); ++i) {
    if (lanes_[i].rows.empty()) continue;
    const int64_t wait = WaitMs(i);
    if (best < 0 || wait < best_wait) {
      best = i;
      best_wait = wait;
    }
  }
  return best;
}

JobRow DispatchLanes::TakeFrom(int lane) {
  JobRow row = std::move(lanes_[lane].rows.front());
  lanes_[lane].rows.pop_front();
  deferred_ids_.erase(row.job.value());
  return row;
}

std::optional<JobRow> DispatchLanes::Pick(std::deque<JobRow>& buffer,
                                          const std::function<bool()>& refill, int scan_limit,
                                          bool* exhausted) {
  *exhausted = false;
  if (lanes_.size() < 2 && deferred_ids_.empty()) {  // one bucket or none: the buffer's order
    if (buffer.empty() && !refill()) return std::nullopt;
    JobRow row = std::move(buffer.front());
    buffer.pop_front();
    return row;
  }
  const int soonest = SoonestSetAside();
  if (soonest >= 0 && WaitMs(soonest) <= kLeaseAheadMs) return TakeFrom(soonest);
  for (int scanned = 0; scanned < scan_limit; ++scanned) {
    if (buffer.empty() && !refill()) break;
    JobRow row = std::move(buffer.front());
    buffer.pop_front();
    if (deferred_ids_.count(row.job.value())) continue;  // read again after a wrap-around
    const int lane = LaneOf(row.variant_id);
    if (lane < 0 || WaitMs(lane) <= kLeaseAheadMs) return row;
    if (static_cast<int>(deferred_ids_.size()) < max_deferred_) {
      deferred_ids_.insert(row.job.value());
      lanes_[lane].rows.push_back(std::move(row));
    }  // else it stays pending in the store and is read again later
    if (scanned + 1 == scan_limit) *exhausted = true;
  }
  // Every bucket in view would make its call wait: the one that grants soonest gets the slot
  // (the slot would idle otherwise).
  const int best = SoonestSetAside();
  if (best < 0) return std::nullopt;
  return TakeFrom(best);
}

}  // namespace codesweep
