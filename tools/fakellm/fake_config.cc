// FakeConfig JSON and the token-bucket limiter.
#include "tools/fakellm/fake_config.h"

#include <algorithm>
#include <cmath>

namespace codesweep::fakellm {
namespace {

using nlohmann::json;

template <typename T>
Status Take(const json& patch, const char* key, T* field) {
  auto it = patch.find(key);
  if (it == patch.end()) return Status::OK();
  try {
    *field = it->get<T>();
  } catch (const json::exception&) {
    return Status::InvalidArgument(std::string("config field '") + key + "' has the wrong type");
  }
  return Status::OK();
}

}  // namespace

Status PatchConfig(const json& patch, FakeConfig* config) {
  if (!patch.is_object()) return Status::InvalidArgument("config must be a JSON object");
  const json known = ConfigToJson(*config);
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (!known.contains(it.key()))
      return Status::InvalidArgument("unknown config field '" + it.key() + "'");
  }
  FakeConfig c = *config;
  CS_RETURN_IF_ERROR(Take(patch, "rpm", &c.rpm));
  CS_RETURN_IF_ERROR(Take(patch, "tpm", &c.tpm));
  CS_RETURN_IF_ERROR(Take(patch, "burst_s", &c.burst_s));
  CS_RETURN_IF_ERROR(Take(patch, "count_rejected", &c.count_rejected));
  if (c.burst_s <= 0) return Status::InvalidArgument("burst_s must be positive");
  CS_RETURN_IF_ERROR(Take(patch, "latency_ms", &c.latency_ms));
  CS_RETURN_IF_ERROR(Take(patch, "latency_jitter_ms", &c.latency_jitter_ms));
  CS_RETURN_IF_ERROR(Take(patch, "latency_dist", &c.latency_dist));
  CS_RETURN_IF_ERROR(Take(patch, "latency_key", &c.latency_key));
  CS_RETURN_IF_ERROR(Take(patch, "p_500", &c.p_500));
  CS_RETURN_IF_ERROR(Take(patch, "p_502", &c.p_502));
  CS_RETURN_IF_ERROR(Take(patch, "p_503", &c.p_503));
  CS_RETURN_IF_ERROR(Take(patch, "p_drop", &c.p_drop));
  CS_RETURN_IF_ERROR(Take(patch, "p_truncate", &c.p_truncate));
  CS_RETURN_IF_ERROR(Take(patch, "p_slow", &c.p_slow));
  CS_RETURN_IF_ERROR(Take(patch, "p_oversize", &c.p_oversize));
  CS_RETURN_IF_ERROR(Take(patch, "p_empty", &c.p_empty));
  CS_RETURN_IF_ERROR(Take(patch, "context_tokens", &c.context_tokens));
  CS_RETURN_IF_ERROR(Take(patch, "slow_ms", &c.slow_ms));
  CS_RETURN_IF_ERROR(Take(patch, "oversize_bytes", &c.oversize_bytes));
  CS_RETURN_IF_ERROR(Take(patch, "valid_keys", &c.valid_keys));
  CS_RETURN_IF_ERROR(Take(patch, "sim_options", &c.sim_options));
  CS_RETURN_IF_ERROR(Take(patch, "seed", &c.seed));
  if (c.latency_dist != "uniform" && c.latency_dist != "exponential") {
    return Status::InvalidArgument("latency_dist must be uniform or exponential");
  }
  if (c.latency_key != "admission" && c.latency_key != "prompt") {
    return Status::InvalidArgument("latency_key must be admission or prompt");
  }
  *config = c;
  return Status::OK();
}

json ConfigToJson(const FakeConfig& c) {
  return {{"rpm", c.rpm},
          {"tpm", c.tpm},
          {"burst_s", c.burst_s},
          {"count_rejected", c.count_rejected},
          {"latency_ms", c.latency_ms},
          {"latency_jitter_ms", c.latency_jitter_ms},
          {"latency_dist", c.latency_dist},
          {"latency_key", c.latency_key},
          {"p_500", c.p_500},
          {"p_502", c.p_502},
          {"p_503", c.p_503},
          {"p_drop", c.p_drop},
          {"p_truncate", c.p_truncate},
          {"p_slow", c.p_slow},
          {"p_oversize", c.p_oversize},
          {"p_empty", c.p_empty},
          {"context_tokens", c.context_tokens},
          {"slow_ms", c.slow_ms},
          {"oversize_bytes", c.oversize_bytes},
          {"valid_keys", c.valid_keys},
          {"sim_options", c.sim_options},
          {"seed", c.seed}};
}

KeyLimiter::Decision KeyLimiter::Admit(const std::string& key, int64_t tokens, const FakeConfig& c,
                                       int64_t now_ms) {
  const int64_t rpm = c.rpm, tpm = c.tpm;
  const double burst_s = c.burst_s;
  std::lock_guard<std::mutex> lock(mu_);
  Bucket& b = buckets_[key];
  const double elapsed = static_cast<double>(std::max<int64_t>(0, now_ms - b.last_ms));
  b.last_ms = now_ms;
  const double req_cap = std::max(1.0, rpm * burst_s / 60.0);
  const double tok_cap = std::max(1.0, tpm * burst_s / 60.0);
  auto refill = [elapsed](double* level, bool* started, double cap, int64_t per_minute) {
    *level = *started ? std::min(cap, *level + elapsed * static_cast<double>(per_minute) / 60'000.0)
                      : cap;
    *started = true;
  };
  Decision d;
  if (rpm > 0) refill(&b.requests, &b.requests_started, req_cap, rpm);
  if (tpm > 0) refill(&b.tokens, &b.tokens_started, tok_cap, tpm);
  // A request larger than the whole token budget passes when the bucket is full.
  const double need_tokens = tpm > 0 ? std::min<double>(static_cast<double>(tokens), tok_cap) : 0;
  double wait_ms = 0;
  if (rpm > 0 && b.requests < 1) wait_ms = (1 - b.requests) * 60'000.0 / rpm;
  if (tpm > 0 && b.tokens < need_tokens) {
    wait_ms = std::max(wait_ms, (need_tokens - b.tokens) * 60'000.0 / tpm);
  }
  if (wait_ms > 0 && c.count_rejected && rpm > 0) {
    b.requests = std::max(b.requests - 1, -req_cap);  // the refusal counts, up to one bucket
    wait_ms = std::max(wait_ms, (1 - b.requests) * 60'000.0 / rpm);
  }
  if (wait_ms > 0) {
    d.allowed = false;
    d.retry_after_ms = static_cast<int64_t>(std::ceil(wait_ms));
  } else {
    if (rpm > 0) b.requests -= 1;
    if (tpm > 0) b.tokens -= static_cast<double>(tokens);
  }
  if (rpm > 0) {
    d.remaining_requests = static_cast<int64_t>(std::max(0.0, b.requests));
    d.reset_requests_ms = static_cast<int64_t>(std::ceil((req_cap - b.requests) * 60'000.0 / rpm));
  }
  if (tpm > 0) {
    d.remaining_tokens = static_cast<int64_t>(std::max(0.0, b.tokens));
    d.reset_tokens_ms = static_cast<int64_t>(std::ceil((tok_cap - b.tokens) * 60'000.0 / tpm));
  }
  return d;
}

}  // namespace codesweep::fakellm
