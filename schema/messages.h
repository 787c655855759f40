// The wire protocol between workers (DEALER) and the coordinator (ROUTER): one msgpack frame per
// message, a version field on every frame. docs/protocol.md is the catalogue; schema/codec.h
// encodes and decodes. Plain structs, no behaviour.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "schema/types.h"

namespace codesweep {

inline constexpr int kProtocolVersion = 1;
inline constexpr size_t kMaxFrameBytes = 64 << 20;  // frames larger than this are rejected

struct LeaseRef {
  int64_t job = 0;
  int64_t lease = 0;
  auto operator<=>(const LeaseRef&) const = default;
};

// ---- worker -> coordinator ----
struct HelloMsg {
  int proto = kProtocolVersion;
  std::string worker_id;
  std::string host;
  int64_t pid = 0;
  int slots = 0;
  std::vector<std::string> labels;
  std::vector<LeaseRef> inflight;  // jobs still running here
  std::vector<LeaseRef> unacked;   // results finished here but not yet ACKed (re-sent after)
};
struct CreditMsg {
  int n = 0;  // how many more jobs the worker can take
};
struct HeartbeatMsg {
  std::vector<LeaseRef> inflight;
};
struct CallMsg {
  int64_t job = 0;
  int64_t lease = 0;
  std::string call_key;
  std::string provider;
  std::string model;
  std::string key_alias;  // names the API key (e.g. its env var), never the key
  int64_t est_tokens = 0;
  // Batch mode (the model's `batch = true`): the provider request body, so the coordinator can
  // put the call into a provider batch. "" = a synchronous call.
  std::string batch_body;
};
struct CallResultMsg {
  int64_t job = 0;
  int64_t lease = 0;
  std::string call_key;
  std::string provider;
  std::string model;
  std::string key_alias;
  bool ok = false;            // only ok responses are cached
  std::string response_json;  // normalized response
  int64_t tokens_in = 0;
  int64_t tokens_out = 0;
  int64_t latency_ms = 0;
  int http_status = 0;
  int rate_limited = 0;                                      // 429s seen for this call
  std::vector<std::pair<std::string, std::string>> headers;  // rate-limit headers only
};
struct ResultMsg {
  int64_t job = 0;
  int64_t lease = 0;
  int attempt = 0;
  Outcome outcome;
};
struct ByeMsg {};
// ---- a client (`codesweep submit`, `codesweep retry --connect`) -> coordinator ----
// A sweep file for the coordinator to expand into its store and dispatch at once: a new sweep,
// or an existing one (same name) extended. Answered by SUBMITTED.
struct SubmitMsg {
  std::string path;       // where the client read it (named in errors)
  std::string text;       // the sweep file (TOML)
  int64_t max_cells = 0;  // refuse a larger grid; 0 = the coordinator's limit
};
// The store changed behind the coordinator (e.g. `codesweep retry` put cells back to pending):
// re-read the pending jobs and the counts now. Answered by SUBMITTED with no sweep.
struct WakeMsg {};

// ---- coordinator -> worker ----
struct WelcomeMsg {
  int64_t epoch = 0;  // changes on every coordinator start
  int hb_ms = 1000;
  int liveness = 3;
  int64_t lease_ms = 60000;
};
struct JobMsg {
  int64_t lease = 0;
  int attempt = 0;
  JobSpec spec;  // spec.job is the job id
};
struct GrantMsg {
  std::string call_key;
  bool cached = false;        // true: response_json is the stored response, do not call
  std::string response_json;  // set when cached
  // Batch mode: the call waits in a provider batch; the job parks (ends with Outcome::parked).
  bool park = false;
  // Batch mode: the response came from a provider batch for this job: record it as a paid call
  // (its cost at batch prices), not as a cache hit.
  bool batch = false;
  // Batch mode: the request failed inside its batch. The job ends as a synchronous call with this
  // HTTP status and message would (error_http_status classifies it, jobs/llm/retry.h).
  std::string error;
  int error_http_status = 0;
};
struct AckMsg {
  int64_t job = 0;
  int64_t lease = 0;
};
struct CancelMsg {
  int64_t job = 0;
  int64_t lease = 0;
};
struct ResetMsg {};  // unknown worker or new epoch: send HELLO again
struct CoordHeartbeatMsg {};
// The answer to SUBMIT or WAKE. `error` non-empty: refused, nothing was loaded.
struct SubmittedMsg {
  std::string error;
  int64_t sweep_id = 0;
  std::string name;
  int64_t total = 0;     // cells in the grid
  int64_t inserted = 0;  // new this time (dispatched at once)
};

using Message = std::variant<HelloMsg, CreditMsg, HeartbeatMsg, CallMsg, CallResultMsg, ResultMsg,
                             ByeMsg, WelcomeMsg, JobMsg, GrantMsg, AckMsg, CancelMsg, ResetMsg,
                             CoordHeartbeatMsg, SubmitMsg, WakeMsg, SubmittedMsg>;

}  // namespace codesweep
