// Provider clients over HTTP (OpenAI-compatible Chat Completions, Anthropic Messages) with the one
// retry layer, and the factory that picks a client for a ModelSpec. Secrets are looked up through
// ProviderEnv::get_secret by the env-var name in the model options and never stored or logged.
// A client is used by one thread at a time; the HttpEngine it sends through is shared and
// thread-safe. Options, capability table and prices: docs/llm.md.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/log.h"
#include "jobs/llm/llm_client.h"
#include "jobs/llm/retry.h"

namespace codesweep {

class HttpEngine;
class PriceTable;

struct ProviderEnv {
  // Returns the value of a named secret (an environment variable read by main), or nullopt.
  std::function<std::optional<std::string>(const std::string& name)> get_secret;
  Logger* logger = nullptr;
  // Extra request headers (e.g. X-Codesweep-Cell) sent only when the model's options set
  // "cell_context_header": true.
  std::vector<std::pair<std::string, std::string>> extra_headers;
  // True when the caller paces 429s itself (the worker's metered client, whose every HTTP
  // attempt is granted by the coordinator): a 429 ends Complete() at once with
  // kResourceExhausted and last_call_stats().http_status == 429, without sleeping or retrying.
  // Rate-limit headers and retries reach the caller through the CallObserver of each call.
  bool rate_limit_by_caller = false;
  // The process's shared HTTP engine (see MakeHttpEngine); null = the client starts its own.
  std::shared_ptr<HttpEngine> http;
  // Prices; null = data/prices.json under data_dir ("" = the source tree's data/).
  std::shared_ptr<const PriceTable> prices;
  std::string data_dir;
  const Clock* clock = nullptr;       // null = the system clock
  std::function<void(Millis)> sleep;  // null = std::this_thread::sleep_for
};

// For provider "openai" or "anthropic". ("sim" clients are made by jobs/llm/sim.)
// Fails with kFailedPrecondition when the API key variable is unset (an api_key_env of ""
// sends no key, for local servers).
Result<std::unique_ptr<LlmClient>> MakeProviderClient(const ModelSpec& model,
                                                      const ProviderEnv& env);
// Checks the model's options (known keys, types) without contacting anything.
Status ValidateProviderModel(const ModelSpec& model);
// What a model of this spec can do (tool use, system role, temperature), from the capability table.
LlmCapabilities ProviderCapabilities(const ModelSpec& model);

}  // namespace codesweep
