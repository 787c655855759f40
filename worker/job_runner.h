// The production JobRunner: RunJob (jobs/methods) with a client factory whose metered clients
// (every provider but "sim") ask the coordinator first through the slot's CallGate: a cached
// response is replayed without calling the provider, otherwise the call waits for its GRANT and
// its result is reported back for the call cache and the rate limiter. A 429 ends the HTTP
// attempt and the client asks again (CALL), so every attempt is granted and a 429 never costs a
// job attempt (docs/ratelimit.md). The runner is safe to call from many slot threads at once; the
// borrowed deps must outlive it.
#pragma once

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

// Carries the rate-limit state an HTTP client saw (ProviderEnv::on_rate_info runs on the calling
// slot thread) to the metered client on that same thread, for its CALL_RESULT. Thread-safe.
class RateInfoRelay {
 public:
  void Publish(const RateLimitInfo& info);
  // The calling thread's latest info since the last Take(), if any.
  std::optional<RateLimitInfo> Take();

 private:
  std::mutex mu_;
  std::unordered_map<std::thread::id, RateLimitInfo> latest_;
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
// relay, the inner client should be built with ProviderEnv::rate_limit_by_caller.
std::unique_ptr<LlmClient> MakeMeteredClient(std::unique_ptr<LlmClient> inner,
                                             const ModelSpec& model, CallGate& gate,
                                             RateInfoRelay* relay = nullptr);

// The key alias a model's calls are limited under: options "key_alias", else "api_key_env",
// else the provider's default variable. Matches the coordinator's reading of the sweep.
std::string KeyAliasOf(const ModelSpec& model);

}  // namespace codesweep
