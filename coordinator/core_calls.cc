// CoordinatorCore's CALL/GRANT side: the call cache, calls shared while in flight, per-bucket FIFO
// queues granted round-robin through the RateLimiter, sweep limits, and the live snapshot.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "coordinator/coordinator_core.h"

namespace codesweep {
namespace {

constexpr int64_t kLimitsReloadMs = 2'000;  // an unknown bucket re-reads sweep limits this often

int64_t MsSince(SteadyTime a, SteadyTime b) {
  return std::chrono::duration_cast<Millis>(b - a).count();
}

// (bucket, limits) of every non-sim model of one sweep's normalized config JSON.
std::vector<std::pair<BucketKey, RateLimitConfig>> SweepLimits(const std::string& config_json) {
  std::vector<std::pair<BucketKey, RateLimitConfig>> out;
  nlohmann::json j = nlohmann::json::parse(config_json, nullptr, false);
  if (!j.is_object() || !j.contains("models") || !j["models"].is_array()) return out;
  for (const auto& m : j["models"]) {
    if (!m.is_object() || !m.value("id", nlohmann::json()).is_string()) continue;
    std::string id = m["id"].get<std::string>();
    size_t colon = id.find(':');
    if (colon == std::string::npos) continue;
    BucketKey key{id.substr(0, colon), id.substr(colon + 1), ""};
    if (m.contains("key_alias") && m["key_alias"].is_string()) key.key_alias = m["key_alias"];
    const auto& options = m.value("options", nlohmann::json::object());
    if (options.is_object() && options.contains("key_alias") && options["key_alias"].is_string()) {
      key.key_alias = options["key_alias"];
    }
    const auto& l = m.value("limits", nlohmann::json::object());
    if (!l.is_object()) continue;
    RateLimitConfig c;
    auto num = [&](const char* name) {
      return l.contains(name) && l[name].is_number() ? l[name].get<double>() : 0.0;
    };
    c.requests_per_minute = num("rpm");
    c.tokens_per_minute = num("tpm");
    c.input_tokens_per_minute = num("input_tpm");
    c.output_tokens_per_minute = num("output_tpm");
    c.max_concurrency = static_cast<int>(num("max_concurrency"));
    c.reserve_fraction = num("reserve");
    out.emplace_back(std::move(key), c);
  }
  return out;
}

}  // namespace

void CoordinatorCore::LoadLimits(bool force) {
  SteadyTime now = clock_.Now();
  if (!force && MsSince(limits_loaded_, now) < kLimitsReloadMs) return;
  limits_loaded_ = now;
  Result<std::vector<std::pair<int64_t, SweepRecord>>> sweeps = store_.ListSweeps();
  if (!sweeps.ok()) return Fail(sweeps.status());
  for (const auto& [id, rec] : *sweeps) {
    sweeps_[id] = rec;
    for (const auto& [key, limits] : SweepLimits(rec.config_json)) {
      limiter_.Configure(key, limits);
      limits_known_.insert(key);
    }
  }
}

void CoordinatorCore::OnCall(const std::string& peer, const CallMsg& m) {
  if (m.call_key.empty()) return BadFrame(peer, "CALL without a call key");
  if (opt_.use_cache) {
    Result<std::optional<StoredCall>> hit = store_.LookupCall(m.call_key);
    if (!hit.ok()) return Fail(hit.status());
    if (hit->has_value()) return Send(peer, GrantMsg{m.call_key, true, (*hit)->response_json});
  }
  auto running = calls_in_flight_.find(m.call_key);
  if (running != calls_in_flight_.end()) {
    // The granted job asking again (a GRANT lost in a reconnect): the grant still stands.
    const InFlightCall& c = running->second;
    if (c.peer == peer && c.job == m.job && c.lease == m.lease) {
      return Send(peer, GrantMsg{m.call_key, false, ""});
    }
    running->second.followers.push_back({peer, m});  // shares the call's result
    return;
  }
  BucketKey key = BucketKey::Of(m);
  if (!limits_known_.count(key)) LoadLimits(false);
  std::deque<WaitingCall>& queue = call_queues_[key];
  if (queue.empty() && TryGrant(peer, m)) return;
  queue.push_back({peer, m});  // FIFO: never overtakes calls already waiting for this bucket
  ++queued_calls_;
}

bool CoordinatorCore::TryGrant(const std::string& peer, const CallMsg& m) {
  if (!limiter_.TryAcquire(m, NowMs())) {
    queue_ready_ms_[BucketKey::Of(m)] = limiter_.ReadyAtMs(BucketKey::Of(m), NowMs());
    return false;
  }
  calls_in_flight_[m.call_key] = InFlightCall{m.job, m.lease, peer, {}};
  Send(peer, GrantMsg{m.call_key, false, ""});
  return true;
}

void CoordinatorCore::OnCallResult(const CallResultMsg& m) {
  limiter_.OnResult(m, NowMs());
  queue_ready_ms_[BucketKey{m.provider, m.model, m.key_alias}] = 0;  // a slot may have opened
  if (m.ok && !m.call_key.empty()) {
    StoredCall call{m.call_key,  m.provider,   m.model, m.response_json,
                    m.tokens_in, m.tokens_out, NowMs()};
    Fail(store_.PutCall(call));
    ++ops_since_commit_;
  }
  ResubmitFollowers(m.call_key, &m);
}

// Ends the in-flight call `call_key`: followers get its response (cache on, result ok) or go
// through the limiter themselves (the first becomes the new owner, the rest follow it).
void CoordinatorCore::ResubmitFollowers(const std::string& call_key, const CallResultMsg* result) {
  auto it = calls_in_flight_.find(call_key);
  if (it == calls_in_flight_.end()) return;
  std::vector<WaitingCall> followers = std::move(it->second.followers);
  calls_in_flight_.erase(it);
  for (WaitingCall& f : followers) {
    if (result != nullptr && result->ok && opt_.use_cache) {
      Send(f.peer, GrantMsg{call_key, true, result->response_json});
    } else {
      OnCall(f.peer, f.call);
    }
  }
}

void CoordinatorCore::GrantWaiting() {
  if (queued_calls_ == 0) return;
  const int64_t now_ms = NowMs();
  bool granted = true;
  while (granted && fatal_.ok()) {  // round-robin: one call per bucket per pass
    granted = false;
    for (auto& [key, queue] : call_queues_) {
      if (queue.empty() || queue_ready_ms_[key] > now_ms) continue;
      WaitingCall& head = queue.front();
      auto running = calls_in_flight_.find(head.call.call_key);
      if (running != calls_in_flight_.end()) {
        running->second.followers.push_back(std::move(head));
      } else if (!TryGrant(head.peer, head.call)) {
        continue;
      }
      queue.pop_front();
      --queued_calls_;
      granted = true;
    }
  }
}

void CoordinatorCore::DropPeerCalls(const std::string& peer) {
  for (auto& [key, queue] : call_queues_) {
    size_t before = queue.size();
    std::erase_if(queue, [&](const WaitingCall& w) { return w.peer == peer; });
    queued_calls_ -= static_cast<int64_t>(before - queue.size());
  }
  std::vector<std::string> owned;
  for (auto& [call_key, call] : calls_in_flight_) {
    std::erase_if(call.followers, [&](const WaitingCall& w) { return w.peer == peer; });
    if (call.peer == peer) owned.push_back(call_key);
  }
  for (const std::string& call_key : owned) {
    limiter_.Release(call_key, NowMs());
    ResubmitFollowers(call_key, nullptr);
  }
  if (!owned.empty()) {
    for (auto& [key, ready] : queue_ready_ms_) ready = 0;  // freed slots: ask again
  }
}

void CoordinatorCore::SnapshotLimits() {
  std::vector<BucketSnapshot> snaps = limiter_.Snapshot(NowMs());
  if (snaps.empty()) return;
  std::vector<RateLimitRow> rows;
  for (const BucketSnapshot& s : snaps) {
    auto q = call_queues_.find(s.key);
    RateLimitRow r;
    r.provider = s.key.provider;
    r.model = s.key.model;
    r.key_alias = s.key.key_alias;
    r.rpm = s.rpm;
    r.tpm = s.tpm;
    r.input_tpm = s.input_tpm;
    r.output_tpm = s.output_tpm;
    r.requests_available = s.requests_available;
    r.tokens_available = s.tokens_available;
    r.in_flight = s.in_flight;
    r.cap = s.cap;
    r.max_concurrency = s.max_concurrency;
    r.queued = q == call_queues_.end() ? 0 : static_cast<int64_t>(q->second.size());
    r.granted = s.granted;
    r.ok = s.ok;
    r.rate_limited = s.rate_limited;
    r.cooldown_ms = s.cooldown_ms;
    r.updated_ms = s.updated_ms;
    rows.push_back(std::move(r));
  }
  Fail(store_.PutRateLimits(rows));
  ++ops_since_commit_;
}

}  // namespace codesweep
