// fakellm's live configuration (limits, latency, faults) and its per-key rate limiter.
// FakeConfig is a plain value, patched from JSON by POST /admin/config; KeyLimiter is a
// token-bucket table guarded by its own mutex, called from every server thread.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"

namespace codesweep::fakellm {

struct FakeConfig {
  int64_t rpm = 0;                // requests per minute per API key; 0 = unlimited
  int64_t tpm = 0;                // tokens (in + out) per minute per API key; 0 = unlimited
  double burst_s = 60;            // bucket capacity in seconds of refill (60 = one minute's worth)
  int64_t latency_ms = 0;         // mean answer latency
  int64_t latency_jitter_ms = 0;  // uniform +/- (dist "uniform")
  std::string latency_dist = "uniform";  // "uniform" or "exponential" (mean latency_ms)
  // What a request's latency draw is keyed by: "admission" (its admission count: every request
  // draws anew) or "prompt" (its messages: the same prompt always waits as long, whichever
  // client sends it and in whatever order; a side-by-side benchmark then compares scheduling,
  // not two runners' luck with the draws).
  std::string latency_key = "admission";
  double p_500 = 0, p_502 = 0, p_503 = 0;  // error-response rates
  double p_drop = 0;                       // headers sent, then the connection is closed
  double p_truncate = 0;                   // 200 with a JSON body cut in half
  double p_slow = 0;                       // answer only after slow_ms (past the client's timeout)
  double p_oversize = 0;                   // 200 with a body of oversize_bytes
  double p_empty = 0;                      // 200 with an empty body
  int64_t slow_ms = 30'000;
  int64_t oversize_bytes = 40 * 1024 * 1024;
  std::string valid_keys;          // comma-separated; "" = any key (or none) is accepted
  std::string sim_options = "{}";  // SimOptions JSON for X-Codesweep-Cell answers
  uint64_t seed = 1;
  // The context length in tokens (0 = none): a longer prompt is cut silently and its usage
  // reports this many prompt tokens, as some servers do; GET /v1/models reports it as
  // max_model_len (vLLM's field).
  int64_t context_tokens = 0;
  // A refused (429) request still takes one request from the key's request bucket (down to one
  // bucket of debt), as real providers count unsuccessful requests; its tokens are not charged.
  // Off by default: clients that retry exactly at Retry-After livelock against it (as against a
  // real provider), which the client tests of the retry layer do on purpose.
  bool count_rejected = false;
};

// Applies the fields present in `patch` (a JSON object); unknown fields or bad types fail and
// leave `config` unchanged.
Status PatchConfig(const nlohmann::json& patch, FakeConfig* config);
nlohmann::json ConfigToJson(const FakeConfig& config);

// Per-key token buckets for requests and tokens: capacity burst_s of refill, continuous refill.
class KeyLimiter {
 public:
  struct Decision {
    bool allowed = true;
    int64_t retry_after_ms = 0;
    int64_t remaining_requests = -1, remaining_tokens = -1;  // -1 = unlimited
    int64_t reset_requests_ms = 0, reset_tokens_ms = 0;      // until the bucket is full
  };
  // Takes one request and `tokens` from `key`'s buckets at `now_ms`, or says how long to wait
  // (with count_rejected, a refusal still takes the request, and the wait includes it).
  Decision Admit(const std::string& key, int64_t tokens, const FakeConfig& c, int64_t now_ms);

 private:
  struct Bucket {
    double requests = 0, tokens = 0;  // may be negative: a debt of counted refusals
    bool requests_started = false;    // each starts full when its limit is first applied
    bool tokens_started = false;
    int64_t last_ms = 0;
  };
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
};

}  // namespace codesweep::fakellm
