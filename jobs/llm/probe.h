// ProbeModel: one tiny real request to an HTTP provider model, for `codesweep validate --probe`.
// It says whether the server answers, accepts the key and (when asked) a tool definition, and
// what context length the server reports (GET {base_url}/models, vLLM's max_model_len and
// similar fields). At most one completion request per call, never retried. Any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "jobs/llm/providers.h"

namespace codesweep {

struct ProbeReport {
  int requests = 0;                       // completion requests sent (0 or 1)
  bool reachable = false;                 // an HTTP answer came back
  int http_status = 0;                    // of the completion request; 0 if none arrived
  std::string auth;                       // "ok", "refused", "none sent" or "unknown"
  std::optional<bool> tools;              // a tool definition was accepted; nullopt = not asked
  std::optional<int64_t> context_tokens;  // as the server reports it
  std::string error;  // the server's or the transport's message, "" when it answered
  std::vector<std::string> warnings;  // e.g. the API key variable is unset
};

// For provider "openai" or "anthropic". `with_tools` sends a tool definition in the request (for
// models that will run tool methods). An unset api_key_env variable is a warning, and the request
// goes without a key. Fails only on bad options (kInvalidArgument).
Result<ProbeReport> ProbeModel(const ModelSpec& model, bool with_tools, const ProviderEnv& env);

}  // namespace codesweep
