// DispatchLanes: slots go to the jobs whose bucket grants soonest once several buckets compete,
// and among those to the bucket with the most work left.
#include "coordinator/ratelimit/dispatch_lanes.h"

#include <algorithm>

namespace codesweep {

DispatchLanes::DispatchLanes(const CallBroker& broker, const Clock& clock, int max_deferred,
                             CountUnfinished count)
    : broker_(broker), clock_(clock), max_deferred_(max_deferred), count_(std::move(count)) {}

void DispatchLanes::CountLeased(int64_t job, int lane) {
  if (leased_.emplace(job, lane).second) ++lanes_[lane].leased;
}

void DispatchLanes::OnCall(int64_t job, int64_t variant, const BucketKey& bucket) {
  auto way = on_the_way_.find(job);
  if (way != on_the_way_.end()) {
    --lanes_[way->second].on_the_way;
    on_the_way_.erase(way);
  }
  if (variant == 0) return;  // no lease of it here
  auto known = variant_lane_.find(variant);
  if (known != variant_lane_.end()) {
    CountLeased(job, known->second);
    return;
  }
  auto [it, added] = lane_index_.emplace(bucket, static_cast<int>(lanes_.size()));
  if (added) lanes_.push_back(Lane{bucket, 0, 0, 0, 0, {}});
  variant_lane_[variant] = it->second;
  auto left = unfinished_.find(variant);
  if (left != unfinished_.end()) lanes_[it->second].unfinished += left->second;
  CountLeased(job, it->second);
}

void DispatchLanes::OnLeased(int64_t job, int64_t variant) {
  const int lane = LaneOf(variant);
  if (lane < 0) return;
  CountLeased(job, lane);
  if (on_the_way_.emplace(job, lane).second) ++lanes_[lane].on_the_way;
}

void DispatchLanes::OnLeaseEnded(int64_t job) {
  auto way = on_the_way_.find(job);
  if (way != on_the_way_.end()) {
    --lanes_[way->second].on_the_way;
    on_the_way_.erase(way);
  }
  auto leased = leased_.find(job);
  if (leased != leased_.end()) {
    Lane& lane = lanes_[leased->second];
    --lane.leased;
    ++lane.ended;  // most often finished: no longer among the unfinished counted before
    leased_.erase(leased);
  }
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

int64_t DispatchLanes::Left(int lane) const {
  const Lane& l = lanes_[lane];
  return std::max<int64_t>(l.unfinished - l.leased - l.ended, 0);
}

void DispatchLanes::Recount() {
  if (!count_) return;
  const SteadyTime now = clock_.Now();
  if (counted_ && now - counted_at_ < Millis(kRecountMs)) return;
  counted_ = true;
  counted_at_ = now;
  Result<std::vector<std::pair<int64_t, int64_t>>> counts = count_();
  if (!counts.ok()) return;  // the last counts stay; without any, no bucket goes first
  unfinished_.clear();
  for (Lane& lane : lanes_) lane.unfinished = lane.ended = 0;
  for (const auto& [variant, n] : *counts) {
    unfinished_[variant] = n;
    const int lane = LaneOf(variant);
    if (lane >= 0) lanes_[lane].unfinished += n;
  }
}

int DispatchLanes::MostWorkLeft() const {
  int best = -1;
  int64_t best_drain = 0;
  for (int i = 0; i < static_cast<int>(lanes_.size()); ++i) {
    const int64_t left = Left(i);
    if (left == 0 || WaitMs(i) > kLeaseAheadMs) continue;
    // How long its bucket takes to grant its queued calls, the jobs on their way and what is
    // left: the least time its model still needs.
    const int64_t drain = broker_.GrantWaitMs(lanes_[i].bucket, lanes_[i].on_the_way + left - 1);
    if (drain > best_drain) {
      best = i;
      best_drain = drain;
    }
  }
  return best;
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
  Recount();
  // The bucket with the most work left, if it grants soon, takes the slot; else (none known)
  // the first row of any bucket that grants soon.
  const int first = MostWorkLeft();
  if (first >= 0 && !lanes_[first].rows.empty()) return TakeFrom(first);
  if (first < 0) {
    const int soonest = SoonestSetAside();
    if (soonest >= 0 && WaitMs(soonest) <= kLeaseAheadMs) return TakeFrom(soonest);
  }
  for (int scanned = 0; scanned < scan_limit; ++scanned) {
    if (buffer.empty() && !refill()) break;
    JobRow row = std::move(buffer.front());
    buffer.pop_front();
    if (deferred_ids_.count(row.job.value())) continue;  // read again after a wrap-around
    const int lane = LaneOf(row.variant_id);
    if (lane < 0 || lane == first || (first < 0 && WaitMs(lane) <= kLeaseAheadMs)) return row;
    if (static_cast<int>(deferred_ids_.size()) < max_deferred_) {
      deferred_ids_.insert(row.job.value());
      lanes_[lane].rows.push_back(std::move(row));
    }  // else it stays pending in the store and is read again later
    if (scanned + 1 == scan_limit) *exhausted = true;
  }
  // No row of the bucket with the most work left in view, or every bucket in view would make
  // its call wait: the one that grants soonest gets the slot (the slot would idle otherwise).
  const int best = SoonestSetAside();
  if (best < 0) return std::nullopt;
  return TakeFrom(best);
}

}  // namespace codesweep
