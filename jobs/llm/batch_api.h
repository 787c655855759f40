// BatchApiClient: the provider Batch APIs over the shared HttpEngine. OpenAI: Files (upload a
// JSONL file, purpose batch) + Batches (create with completion_window 24h, retrieve, cancel, list)
// + the output and error files. Anthropic: Message Batches (create, retrieve, cancel, results
// JSONL). The custom_id of every request line is its call key. Used by the coordinator's
// BatchManager only (workers never talk to batch endpoints); one thread at a time.
// Request and response shapes: docs/batch.md.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "jobs/llm/provider_options.h"
#include "jobs/llm/retry.h"

namespace codesweep {

class HttpEngine;

struct BatchTarget {
  WireFormat format = WireFormat::kOpenAi;
  std::string base_url;  // as for synchronous calls: ".../v1" for OpenAI, the host for Anthropic
  std::string api_key;   // in memory only; "" sends none
  std::string anthropic_version = "2023-06-01";
  HttpHeaders headers;  // extra headers of the model
  int64_t timeout_ms = 120'000;
};

struct BatchLine {
  std::string custom_id;  // the call key
  std::string body;       // the synchronous request body (JSON object)
};

// A batch as the provider reports it, in the words of docs/batch.md.
struct BatchInfo {
  std::string id;
  // "in_progress" (validating, in progress, finalizing, cancelling), "ended", "expired",
  // "cancelled", or "failed" (OpenAI: the batch failed validation; `error` says why).
  std::string state;
  int64_t total = 0, done = 0, failed = 0;
  std::string output_file_id, error_file_id;  // OpenAI
  std::string results_url;                    // Anthropic: where an ended batch's results are
  std::string error;                          // of a failed batch: "code: message; ..."
  bool live() const { return state == "in_progress"; }
};

// One request's end in an ended batch.
struct BatchItem {
  std::string custom_id;
  bool ok = false;
  bool unfinished = false;  // expired or cancelled before it was answered: send again
  int http_status = 0;      // of the request (200 when ok; the error's status otherwise)
  std::string body;         // ok: the response body a synchronous call would have had
  std::string error;        // not ok: the provider's message
};

class BatchApiClient {
 public:
  BatchApiClient(std::shared_ptr<HttpEngine> http, BatchTarget target);

  // Makes a batch of `lines`. OpenAI: uploads the JSONL file, then creates the batch with
  // metadata {"codesweep_batch": tag}. HTTP errors come back as a Status whose message starts
  // with "HTTP <status>"; kResourceExhausted when the provider refused the batch for its size or
  // the queue limit (413, file_too_large, too_many_requests, token_limit_exceeded).
  // Each line's body is freed as the request is written (the lines are taken).
  Result<BatchInfo> Create(std::vector<BatchLine> lines, const std::string& tag);
  Result<BatchInfo> Get(const std::string& id);
  Result<BatchInfo> Cancel(const std::string& id);
  // The ends of the requests of an ended (expired, cancelled) batch. Anthropic: read from the
  // batch's `results_url` (the request carries the API key, so only a URL on the base URL's scheme,
  // host and port is followed; otherwise, or without one, the documented path is built).
  Result<std::vector<BatchItem>> Results(const BatchInfo& info);
  // OpenAI: a batch this client created with `tag` (found after a crash between the create
  // request and its commit), from the newest page of the batch list. Anthropic batches carry no
  // metadata: nullopt.
  Result<std::optional<BatchInfo>> FindByTag(const std::string& tag);

  // Bytes of one request line as sent (for batch_max_bytes).
  static int64_t LineBytes(WireFormat format, const BatchLine& line);

 private:
  Result<std::string> Send(const std::string& method, const std::string& path, std::string body,
                           const std::string& content_type);
  Result<BatchInfo> ParseInfo(const std::string& body) const;
  Status ParseOpenAiLines(const std::string& text, std::vector<BatchItem>* out) const;
  Status ParseAnthropicLines(const std::string& text, std::vector<BatchItem>* out) const;

  std::shared_ptr<HttpEngine> http_;
  BatchTarget t_;
};

// "HTTP 413 ..." -> 413; 0 when the message names no status.
int HttpStatusOf(const Status& status);

}  // namespace codesweep
