// The production JobRunner: RunJob (jobs/methods) with a client factory whose metered clients
// (every provider but "sim") ask the coordinator first through the slot's CallGate: a cached
// response is replayed without calling the provider, otherwise the call waits for its GRANT and
// its result is reported back for the call cache and the rate limiter. A 429 ends the HTTP
// attempt and the client asks again (CALL); a transient failure retried inside the provider
// client is reported and re-granted first (through the CallObserver passed with each call), so
// every HTTP attempt is granted and a 429 never costs a job attempt (docs/ratelimit.md). The
// runner is safe to call from many slots at once; the borrowed deps must outlive it.
#pragma once

#include <memory>
#include <string>

#include "jobs/llm/llm_client.h"
#include "jobs/llm/retry.h"
#include "jobs/methods/method.h"
#include "worker/worker.h"

namespace codesweep {

struct RealRunnerDeps {
  const TaskRegistry* tasks = nullptr;
  Executor* executor = nullptr;
  LlmClientFactory base_factory;  // e.g. MakeDefaultClientFactory(...)
  const Clock* clock = nullptr;
};

JobRunner MakeRealRunner(RealRunnerDeps deps);

// Wraps `inner` so each Complete() goes through CALL/GRANT and CALL_RESULT on `gate`. It calls
// inner->Complete(request, observer): the observer puts the rate-limit headers into CALL_RESULT
// and re-grants each retry. Build `inner` with ProviderEnv::rate_limit_by_caller (runtime.cc).
std::unique_ptr<LlmClient> MakeMeteredClient(std::unique_ptr<LlmClient> inner,
                                             const ModelSpec& model, CallGate& gate);

// The key alias a model's calls are limited under: options "key_alias", else "api_key_env",
// else the provider's default variable. Matches the coordinator's reading of the sweep.
std::string KeyAliasOf(const ModelSpec& model);

}  // namespace codesweep
