// The production JobRunner: RunJob (jobs/methods) with a client factory whose metered clients
// (every provider but "sim") ask the coordinator first through the slot's CallGate: a cached
// response is replayed without calling the provider, otherwise the call waits for its GRANT and
// its result is reported back for the call cache. The returned runner is safe to call from many
// slot threads at once; the borrowed deps must outlive it.
#pragma once

#include <memory>

#include "jobs/llm/llm_client.h"
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

// Wraps `inner` so each Complete() goes through CALL/GRANT and CALL_RESULT on `gate`.
std::unique_ptr<LlmClient> MakeMeteredClient(std::unique_ptr<LlmClient> inner,
                                             const ModelSpec& model, CallGate& gate);

}  // namespace codesweep
