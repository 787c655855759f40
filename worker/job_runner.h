// The production JobRunner: RunJob (jobs/methods) with a client factory whose metered clients
// (every provider but "sim") ask the coordinator first through the slot's CallGate: a cached
// response is replayed without calling the provider, otherwise the call waits for its GRANT and
// its result is reported back for the call cache and the rate limiter. A 429 ends the HTTP
// attempt and the client asks again (CALL); a transient failure retried inside the provider
// client is reported and re-granted first (RateInfoRelay), so every HTTP attempt is granted and
// a 429 never costs a job attempt (docs/ratelimit.md). The runner is safe to call from many slot
// threads at once; the borrowed deps must outlive it.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "jobs/llm/llm_client.h"
#include "jobs/llm/retry.h"
#include "jobs/methods/method.h"
#include "worker/worker.h"

namespace codesweep {

// Connects the process's shared ProviderEnv to the metered client running on the same slot
// thread: it carries the rate-limit state an HTTP client saw (ProviderEnv::on_rate_info) to the
// metered client's CALL_RESULT, and runs the metered client's retry hook for
// ProviderEnv::before_retry (report the failed attempt, wait for a new GRANT). Thread-safe.
class RateInfoRelay {
 public:
  using RetryHook = std::function<Status(const AttemptOutcome& failed)>;
  void Publish(const RateLimitInfo& info);
  // The calling thread's latest info since the last Take(), if any.
  std::optional<RateLimitInfo> Take();
  // Sets (or, with an empty hook, clears) the calling thread's retry hook.
  void SetRetryHook(RetryHook hook);
  // Runs the calling thread's retry hook; OK when it has none.
  Status BeforeRetry(const AttemptOutcome& failed);

 private:
  std::mutex mu_;
  std::unordered_map<std::thread::id, RateLimitInfo> latest_;
  std::unordered_map<std::thread::id, RetryHook> hooks_;
};

struct RealRunnerDeps {
  const TaskRegistry* tasks = nullptr;
  Executor* executor = nullptr;
  LlmClientFactory base_factory;  // e.g. MakeDefaultClientFactory(...)
  const Clock* clock = nullptr;
  std::shared_ptr<RateInfoRelay> relay;  // null: CALL_RESULT carries no rate-limit headers
};

JobRunner MakeRealRunner(RealRunnerDeps deps);

// Wraps `inner` so each Complete() goes through CALL/GRANT and CALL_RESULT on `gate`. With a
// relay, the inner client should be built with ProviderEnv::rate_limit_by_caller and with
// on_rate_info / before_retry forwarded to the relay (see runtime.cc).
std::unique_ptr<LlmClient> MakeMeteredClient(std::unique_ptr<LlmClient> inner,
                                             const ModelSpec& model, CallGate& gate,
                                             RateInfoRelay* relay = nullptr);

// The key alias a model's calls are limited under: options "key_alias", else "api_key_env",
// else the provider's default variable. Matches the coordinator's reading of the sweep.
std::string KeyAliasOf(const ModelSpec& model);

}  // namespace codesweep
