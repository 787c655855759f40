// Provider clients over HTTP (OpenAI-compatible Chat Completions, Anthropic Messages) with the one
// retry layer, and the factory that picks a client for a ModelSpec. Secrets are looked up through
// ProviderEnv::get_secret by the env-var name in the model options and never stored or logged.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "jobs/llm/llm_client.h"
#include "schema/log.h"

namespace codesweep {

struct ProviderEnv {
  // Returns the value of a named secret (an environment variable read by main), or nullopt.
  std::function<std::optional<std::string>(const std::string& name)> get_secret;
  Logger* logger = nullptr;
};

// For provider "openai" or "anthropic". ("sim" clients are made by jobs/llm/sim.)
Result<std::unique_ptr<LlmClient>> MakeProviderClient(const ModelSpec& model,
                                                      const ProviderEnv& env);
// Checks the model's options (known keys, types) without contacting anything.
Status ValidateProviderModel(const ModelSpec& model);
// What a model of this spec can do (tool use, system role, temperature), from the capability table.
LlmCapabilities ProviderCapabilities(const ModelSpec& model);

}  // namespace codesweep
