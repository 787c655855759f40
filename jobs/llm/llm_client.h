// LlmClient: the one interface through which jobs talk to models (sim, OpenAI-compatible,
// Anthropic). A client is created per (model, job) by MakeLlmClient and used from one slot
// thread at a time. Requests and responses are provider-neutral; providers translate.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "jobs/llm/retry.h"
#include "schema/types.h"

namespace codesweep {

struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments_json;  // as the model sent it; may be invalid JSON
};

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", "tool"
  std::string content;
  std::vector<ToolCall> tool_calls;  // assistant messages only
  std::string tool_call_id;          // tool messages only
  std::string name;                  // tool messages: the tool's name
};

struct ToolSpec {
  std::string name;
  std::string description;
  std::string parameters_json;  // JSON Schema object
};

struct LlmRequest {
  std::vector<ChatMessage> messages;
  std::vector<ToolSpec> tools;
  GenSettings gen;
  int draw = 0;  // draw index: distinct draws of the same request get distinct cache keys
};

struct LlmUsage {
  int64_t input_tokens = 0;
  int64_t cached_input_tokens = 0;
  int64_t output_tokens = 0;
  bool estimated = false;
};

struct LlmResponse {
  std::string content;
  std::vector<ToolCall> tool_calls;
  std::string finish_reason;  // "stop", "length", "tool_calls", ...
  LlmUsage usage;
  int http_status = 0;
  int64_t latency_ms = 0;
  int attempts = 1;
  int rate_limited = 0;
  double cost_usd = 0.0;
  bool cached = false;
  bool batch = false;  // answered by a provider batch (cost at batch prices)
};

struct LlmCapabilities {
  bool tools = true;           // function/tool calling
  bool system_message = true;  // accepts a system role
  bool temperature = true;     // accepts temperature/top_p
};

// What the last Complete() cost, filled on success and on failure alike (a failed call still made
// HTTP attempts that the calls table records). Clients without HTTP report zeros.
struct LlmCallStats {
  int attempts = 0;      // HTTP attempts, 429s included
  int rate_limited = 0;  // 429s among them
  int http_status = 0;   // of the last attempt; 0 if none reached a server
  int64_t latency_ms = 0;
};

// Hears about the HTTP attempts of one Complete() call, on the thread that makes the call. It is
// passed with the call, so it never depends on which thread (or slot) runs it. The worker's
// metered client is the user: rate-limit headers go into its CALL_RESULT, and every retry waits
// for a new GRANT first.
class CallObserver {
 public:
  virtual ~CallObserver() = default;
  // After an attempt whose response carried rate-limit headers or was a 429.
  virtual void OnRateInfo(const RateLimitInfo& info) = 0;
  // Before a failed attempt (5xx, reset, timeout) is retried, after its back-off. A non-OK
  // status ends the call with that status.
  virtual Status BeforeRetry(const AttemptOutcome& failed) = 0;
};

class LlmClient {
 public:
  virtual ~LlmClient() = default;
  virtual Result<LlmResponse> Complete(const LlmRequest& request) = 0;
  // The same call, telling `observer` about each HTTP attempt. Clients that make no HTTP
  // attempts (sim, test fakes) keep this default, which ignores the observer.
  virtual Result<LlmResponse> Complete(const LlmRequest& request, CallObserver& observer) {
    (void)observer;
    return Complete(request);
  }
  virtual LlmCapabilities capabilities() const = 0;
  virtual LlmCallStats last_call_stats() const { return {}; }
  // Batch mode: the provider request body this client would send for `request` (what goes into a
  // provider batch). Clients that cannot be batched keep the default (kUnimplemented).
  virtual Result<std::string> BatchRequestBody(const LlmRequest& request) const {
    (void)request;
    return Status::FailedPrecondition("this model cannot be sent in a provider batch");
  }
};

// Batch mode: the status a call ends with when it waits in a provider batch (the cell parks),
// and the test for it. RunJob turns it into Outcome::parked.
Status ParkedStatus(const std::string& call_key);
bool IsParked(const Status& status);

// THE list of model options that never change what a model answers: where to reach it and with
// which key (base_url, api_key_env, key_alias, headers), how long to wait and how often to retry
// (timeouts, timeout_ms, connect_timeout_ms, retry, max_attempts), what it costs (price), the
// simulated latency of sim models, cell_context_header and batch mode (batch, batch_max_requests,
// batch_max_bytes, batch_flush_s, batch_poll_s, batch_max_enqueued_tokens: docs/batch.md). They are
// in neither the call key nor the cell key, and dispatch reads them from the sweep file of the
// current run. Every other model option is in both keys (docs/design.md, "Cell identity").
const std::set<std::string, std::less<>>& NonOutputOptionKeys();

// Canonical JSON of a request (sorted keys, no whitespace) and its call key:
// SHA-256 over provider, model name, canonical request (messages, tools, settings) and draw.
std::string CanonicalRequestJson(const LlmRequest& request);
CallKey ComputeCallKey(const ModelSpec& model, const LlmRequest& request);

// True when the provider reported fewer prompt tokens than `request` can possibly hold: no
// tokenizer packs more than kMaxPromptBytesPerToken bytes of message text into one token on
// average, so a reported count below bytes / kMaxPromptBytesPerToken (when that is at least
// kMinTruncatedPromptTokens) means the server cut the prompt (e.g. to its context length).
// Estimated usage (no count from the provider) is never flagged.
inline constexpr int64_t kMaxPromptBytesPerToken = 6;
inline constexpr int64_t kMinTruncatedPromptTokens = 16;
bool PromptLooksTruncated(const LlmRequest& request, const LlmUsage& usage);

// Normalized response <-> JSON, for the call cache and the calls table.
std::string ResponseToJson(const LlmResponse& response);
Result<LlmResponse> ResponseFromJson(const std::string& json);

}  // namespace codesweep
