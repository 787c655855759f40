// CallBroker: the call cache, calls shared while in flight, per-bucket FIFO queues granted
// round-robin through the RateLimiter, sweep limits, and the live snapshot.
#include "coordinator/ratelimit/call_broker.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>

namespace codesweep {
namespace {

constexpr int64_t kLimitsReloadMs = 2'000;  // an unknown bucket re-reads sweep limits this often

int64_t MsSince(SteadyTime a, SteadyTime b) {
  return std::chrono::duration_cast<Millis>(b - a).count();
}

BucketKey ModelBucket(const nlohmann::json& m, const std::string& id, size_t colon) {
  BucketKey key{id.substr(0, colon), id.substr(colon + 1), ""};
  if (m.contains("key_alias") && m["key_alias"].is_string()) key.key_alias = m["key_alias"];
  const auto& options = m.value("options", nlohmann::json::object());
  if (options.is_object() && options.contains("key_alias") && options["key_alias"].is_string()) {
    key.key_alias = options["key_alias"];
  }
  return key;
}

RateLimitConfig ModelLimits(const nlohmann::json& l) {
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
  return c;
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
    const auto& l = m.value("limits", nlohmann::json::object());
    if (!l.is_object()) continue;
    out.emplace_back(ModelBucket(m, id, colon), ModelLimits(l));
  }
  return out;
}

RateLimitRow ToRow(const BucketSnapshot& s, int64_t queued) {
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
  r.queued = queued;
  r.granted = s.granted;
  r.ok = s.ok;
  r.rate_limited = s.rate_limited;
  r.cooldown_ms = s.cooldown_ms;
  r.updated_ms = s.updated_ms;
  r.est_ratio = s.learned.est_ratio;
  r.input_share = s.learned.input_share;
  r.learned_samples = s.learned.samples;
  return r;
}

}  // namespace

CallBroker::CallBroker(Store& store, const Clock& clock, RateLimiter& limiter, bool use_cache)
    : store_(store), clock_(clock), limiter_(limiter), use_cache_(use_cache) {
  // Instrumentation for benchmarks (docs/ratelimit.md): one line per grant and result.
  if (const char* path = std::getenv("CODESWEEP_RATE_TRACE"); path != nullptr && *path != 0) {
    trace_ = std::fopen(path, "a");
  }
}

CallBroker::~CallBroker() {
  if (trace_ != nullptr) std::fclose(trace_);
}

void CallBroker::Trace(const char* event, const BucketKey& key, int64_t a, int64_t b) {
  if (trace_ == nullptr) return;
  for (const BucketSnapshot& s : limiter_.Snapshot(NowMs())) {
    if (s.key != key) continue;
    std::fprintf(trace_,
                 "%lld %s %s %lld %lld req=%.2f tok=%.0f inflight=%d cap=%d cool=%lld "
                 "ratio=%.4f queued=%lld\n",
                 static_cast<long long>(NowMs()), event, key.model.c_str(),
                 static_cast<long long>(a), static_cast<long long>(b), s.requests_available,
                 s.tokens_available, s.in_flight, s.cap, static_cast<long long>(s.cooldown_ms),
                 s.learned.est_ratio, static_cast<long long>(queued_));
  }
}

Status CallBroker::LoadLimits(bool force) {
  SteadyTime now = clock_.Now();
  if (!force && MsSince(limits_loaded_, now) < kLimitsReloadMs) return Status::OK();
  limits_loaded_ = now;
  if (!seeded_) {  // once: what earlier runs on this database learned of each bucket's tokens
    seeded_ = true;
    CS_ASSIGN_OR_RETURN(std::vector<RateLimitRow> learned, store_.LearnedRateLimits());
    for (const RateLimitRow& r : learned) {
      limiter_.Seed({r.provider, r.model, r.key_alias},
                    {r.est_ratio, r.input_share, r.learned_samples});
    }
  }
  CS_ASSIGN_OR_RETURN(auto sweeps, store_.ListSweeps());
  for (const auto& [id, rec] : sweeps) {
    for (const auto& [key, limits] : SweepLimits(rec.config_json)) {
      limiter_.Configure(key, limits);
      limits_known_.insert(key);
    }
  }
  return Status::OK();
}

void CallBroker::Grant(const std::string& peer, const std::string& call_key, bool cached,
                       std::string response_json) {
  outbox_.push_back({peer, GrantMsg{call_key, cached, std::move(response_json)}});
}

Status CallBroker::OnCall(const std::string& peer, const CallMsg& m) {
  if (use_cache_) {
    CS_ASSIGN_OR_RETURN(std::optional<StoredCall> hit, store_.LookupCall(m.call_key));
    if (hit.has_value()) {
      Grant(peer, m.call_key, true, hit->response_json);
      return Status::OK();
    }
  }
  auto running = in_flight_.find(m.call_key);
  if (running != in_flight_.end()) {
    // The granted job asking again (a GRANT lost in a reconnect): the grant still stands.
    const InFlightCall& c = running->second;
    if (c.peer == peer && c.job == m.job && c.lease == m.lease) {
      Grant(peer, m.call_key, false, "");
    } else {
      running->second.followers.push_back({peer, m});  // shares the call's result
    }
    return Status::OK();
  }
  BucketKey key = BucketKey::Of(m);
  if (!limits_known_.count(key)) CS_RETURN_IF_ERROR(LoadLimits(false));
  std::deque<WaitingCall>& queue = queues_[key];
  if (queue.empty() && TryGrant(peer, m)) return Status::OK();
  queue.push_back({peer, m});  // FIFO: never overtakes calls already waiting for this bucket
  ++queued_;
  return Status::OK();
}

bool CallBroker::TryGrant(const std::string& peer, const CallMsg& m) {
  if (!limiter_.TryAcquire(m, NowMs())) {
    ready_ms_[BucketKey::Of(m)] = limiter_.ReadyAtMs(BucketKey::Of(m), NowMs());
    return false;
  }
  in_flight_[m.call_key] = InFlightCall{m.job, m.lease, peer, {}};
  Grant(peer, m.call_key, false, "");
  Trace("grant", BucketKey::Of(m), m.est_tokens, 0);
  return true;
}

Status CallBroker::OnCallResult(const CallResultMsg& m) {
  limiter_.OnResult(m, NowMs());
  ready_ms_[BucketKey{m.provider, m.model, m.key_alias}] = 0;  // a slot may have opened
  Trace(m.ok ? "ok" : (m.http_status == 429 ? "429" : "fail"),
        BucketKey{m.provider, m.model, m.key_alias}, m.tokens_in + m.tokens_out, m.latency_ms);
  if (m.ok && !m.call_key.empty()) {
    StoredCall call{m.call_key,  m.provider,   m.model, m.response_json,
                    m.tokens_in, m.tokens_out, NowMs()};
    CS_RETURN_IF_ERROR(store_.PutCall(call));
    ++writes_;
  }
  return EndInFlight(m.call_key, &m);
}

// Ends the in-flight call `call_key`: followers get its response (cache on, result ok) or go
// through the limiter themselves (the first becomes the new owner, the rest follow it).
Status CallBroker::EndInFlight(const std::string& call_key, const CallResultMsg* result) {
  auto it = in_flight_.find(call_key);
  if (it == in_flight_.end()) return Status::OK();
  std::vector<WaitingCall> followers = std::move(it->second.followers);
  in_flight_.erase(it);
  for (WaitingCall& f : followers) {
    if (result != nullptr && result->ok && use_cache_) {
      Grant(f.peer, call_key, true, result->response_json);
    } else {
      CS_RETURN_IF_ERROR(OnCall(f.peer, f.call));
    }
  }
  return Status::OK();
}

Status CallBroker::GrantWaiting() {
  if (queued_ == 0) return Status::OK();
  const int64_t now_ms = NowMs();
  bool granted = true;
  while (granted) {  // round-robin: one call per bucket per pass
    granted = false;
    for (auto& [key, queue] : queues_) {
      if (queue.empty() || ready_ms_[key] > now_ms) continue;
      WaitingCall& head = queue.front();
      auto running = in_flight_.find(head.call.call_key);
      if (running != in_flight_.end()) {
        running->second.followers.push_back(std::move(head));
      } else if (!TryGrant(head.peer, head.call)) {
        continue;
      }
      queue.pop_front();
      --queued_;
      granted = true;
    }
  }
  return Status::OK();
}

Status CallBroker::DropPeer(const std::string& peer) {
  for (auto& [key, queue] : queues_) {
    size_t before = queue.size();
    std::erase_if(queue, [&](const WaitingCall& w) { return w.peer == peer; });
    queued_ -= static_cast<int64_t>(before - queue.size());
  }
  std::vector<std::string> owned;
  for (auto& [call_key, call] : in_flight_) {
    std::erase_if(call.followers, [&](const WaitingCall& w) { return w.peer == peer; });
    if (call.peer == peer) owned.push_back(call_key);
  }
  for (const std::string& call_key : owned) {
    limiter_.Release(call_key, NowMs());
    CS_RETURN_IF_ERROR(EndInFlight(call_key, nullptr));
  }
  if (!owned.empty()) {
    for (auto& [key, ready] : ready_ms_) ready = 0;  // freed slots: ask again
  }
  return Status::OK();
}

Status CallBroker::Snapshot() {
  std::vector<BucketSnapshot> snaps = limiter_.Snapshot(NowMs());
  if (snaps.empty()) return Status::OK();
  std::vector<RateLimitRow> rows;
  for (const BucketSnapshot& s : snaps) {
    auto q = queues_.find(s.key);
    rows.push_back(ToRow(s, q == queues_.end() ? 0 : static_cast<int64_t>(q->second.size())));
  }
  CS_RETURN_IF_ERROR(store_.PutRateLimits(rows));
  ++writes_;
  return Status::OK();
}

bool CallBroker::HasCallsOf(const std::string& peer) const {
  auto of_peer = [&](const WaitingCall& w) { return w.peer == peer; };
  for (const auto& [key, queue] : queues_) {
    if (std::any_of(queue.begin(), queue.end(), of_peer)) return true;
  }
  for (const auto& [call_key, call] : in_flight_) {
    if (call.peer == peer || std::any_of(call.followers.begin(), call.followers.end(), of_peer)) {
      return true;
    }
  }
  return false;
}

int64_t CallBroker::NextWakeMs(int64_t cap) const {
  if (queued_ == 0) return cap;
  const int64_t now_ms = NowMs();
  int64_t wake = cap;
  for (const auto& [key, q] : queues_) {
    if (q.empty()) continue;
    auto ready = ready_ms_.find(key);
    int64_t at = ready == ready_ms_.end() ? now_ms : ready->second;
    wake = std::min<int64_t>(wake, std::clamp<int64_t>(at - now_ms, 1, 50));
  }
  return wake;
}

int64_t CallBroker::GrantWaitMs(const BucketKey& key, int64_t ahead) const {
  auto q = queues_.find(key);
  const int64_t waiting = (q == queues_.end() ? 0 : static_cast<int64_t>(q->second.size())) +
                          std::max<int64_t>(ahead, 0);
  // Nobody waits for this bucket: a new call is what keeps its refill from going unused.
  if (waiting == 0) return 0;
  return limiter_.WaitMs(key, waiting + 1, NowMs());
}

std::vector<Outgoing> CallBroker::TakeOutbox() {
  std::vector<Outgoing> out;
  out.swap(outbox_);
  return out;
}

int CallBroker::TakeWrites() {
  int n = writes_;
  writes_ = 0;
  return n;
}

}  // namespace codesweep
