// Options of an HTTP provider model (parsed from ModelSpec.options_json), the per-model capability
// table and the price table (data/prices.json). Plain values; parse once per client, read from
// any thread.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "jobs/llm/llm_client.h"
#include "jobs/llm/retry.h"

namespace codesweep {

struct Price {  // USD per million tokens
  double input = 0.0;
  double cached_input = 0.0;
  double output = 0.0;
  // Batch API prices (OpenAI Batch, Anthropic Message Batches); unset = half of input / output,
  // the discount both providers document.
  std::optional<double> batch_input;
  std::optional<double> batch_output;
};

// Price per model id ("openai:gpt-4o"); the longest id that prefixes the asked one wins, so
// dated snapshots ("openai:gpt-4o-2024-08-06") find their family.
class PriceTable {
 public:
  static Result<PriceTable> FromJson(const std::string& json);
  static Result<PriceTable> Load(const std::string& path);
  std::optional<Price> Find(const std::string& model_id) const;
  void Set(const std::string& model_id, Price price) { prices_[model_id] = price; }

 private:
  std::map<std::string, Price> prices_;
};

double CostUsd(const Price& price, const LlmUsage& usage);
// The same usage answered by a provider batch: batch_input / batch_output (cached input at the
// batch input price), or half the synchronous prices where the table gives none.
double BatchCostUsd(const Price& price, const LlmUsage& usage);

// Batch mode of a model (`batch = true` and its knobs in the sweep file; docs/batch.md). None of
// these changes what the model answers: they are NonOutputOptionKeys().
struct BatchOptions {
  bool enabled = false;
  int64_t max_requests = 50'000;          // requests per batch (both providers' documented cap)
  int64_t max_bytes = 100 * 1000 * 1000;  // bytes of one batch's requests (OpenAI: 200 MB file)
  double flush_s = 60;                    // a batch is sent once its oldest request is this old
  double poll_s = 30;                     // how often a live batch is asked how it is doing
  // The provider's queue limit for this model (OpenAI: "enqueued tokens" per model): the tokens
  // of the live batches of one (provider, model, key alias) stay below it; 0 = no limit.
  int64_t max_enqueued_tokens = 0;
};

enum class WireFormat { kOpenAi, kAnthropic };

struct ProviderOptions {
  WireFormat format = WireFormat::kOpenAi;
  std::string base_url;     // default https://api.openai.com/v1 or https://api.anthropic.com
  std::string api_key_env;  // default OPENAI_API_KEY or ANTHROPIC_API_KEY
  std::string anthropic_version = "2023-06-01";
  HttpHeaders headers;  // extra headers sent on every request
  int64_t connect_timeout_ms = 10'000;
  int64_t timeout_ms = 300'000;      // one attempt
  RetryPolicy retry;                 // retry.deadline_ms bounds the whole call
  bool cell_context_header = false;  // forward ProviderEnv::extra_headers
  std::optional<Price> price;        // overrides the price table
  // Overrides of the sweep's generation settings for this model.
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int> max_tokens;
  std::optional<int64_t> seed;
  std::optional<std::vector<std::string>> stop;
  std::string extra_body_json;  // JSON object merged into every request body ("" = none)
  LlmCapabilities capabilities;
  BatchOptions batch;
};

// Validates and parses the options of an "openai" or "anthropic" model. Unknown keys fail.
Result<ProviderOptions> ParseProviderOptions(const ModelSpec& model);
// The capability table by model name (see docs/llm.md), before option overrides.
LlmCapabilities DefaultCapabilities(const std::string& provider, const std::string& name);
// Reasoning models (o1/o3/o4 families) take max_completion_tokens instead of max_tokens.
bool UsesMaxCompletionTokens(const std::string& name);

}  // namespace codesweep
