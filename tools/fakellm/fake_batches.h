// fakellm's batch APIs: OpenAI Files + Batches (POST /v1/files, GET /v1/files/{id}[/content],
// DELETE /v1/files/{id}, POST /v1/batches, GET /v1/batches[/{id}], POST /v1/batches/{id}/cancel)
// and Anthropic Message Batches (POST /v1/messages/batches, GET /v1/messages/batches[/{id}],
// GET /v1/messages/batches/{id}/results or its results_url, POST
// /v1/messages/batches/{id}/cancel), with the
// documented request and response shapes. A batch completes `delay_ms` after it was created
// (its requests answered then, by the same logic as a synchronous call); configurable per-request
// failures, expiry with part of the requests unanswered, and an enqueued-token limit. Every
// request line a batch is given is counted by its custom_id, so tests can prove nothing was
// submitted twice. State lives in memory. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "http/http_server.h"
#include "jobs/llm/wire_format.h"

namespace codesweep::fakellm {

struct BatchConfig {
  int64_t delay_ms = 1000;             // a batch ends this long after its creation
  double p_fail = 0;                   // share of requests that end in a per-request error
  double expire_fraction = 0;          // > 0: the batch expires with this share unanswered
  int64_t max_enqueued_tokens = 0;     // OpenAI: estimated input tokens of open batches; 0 = none
  int64_t max_requests = 50'000;       // per batch (OpenAI's and Anthropic's documented cap)
  int64_t max_file_bytes = 200 << 20;  // per uploaded file (OpenAI: 200 MB)
  int64_t download_ms = 0;  // > 0: file contents and results stream out in pieces over this long
  uint64_t seed = 1;
  int64_t endpoint_delay_ms = 0;  // every batch endpoint answers this late (a slow provider)
  // Anthropic: 1 = an ended batch's results are served only at its `results_url`, which is then
  // /fakellm/results/{id} (the documented path answers 404): a client must follow results_url.
  int64_t results_elsewhere = 0;
};

Status PatchBatchConfig(const nlohmann::json& patch, BatchConfig* config);
nlohmann::json BatchConfigToJson(const BatchConfig& config);

class BatchApi {
 public:
  // Answers one request body (the JSON of a synchronous call) with the response body a
  // synchronous call would get, and its tokens; an error is a per-request failure.
  struct Answered {
    std::string body;
    int64_t tokens_in = 0, tokens_out = 0;
  };
  using AnswerFn = std::function<Result<Answered>(WireFormat format, const std::string& body)>;
  using NowFn = std::function<int64_t()>;  // Unix time in milliseconds

  BatchApi(AnswerFn answer, NowFn now);

  // True for the paths above (and /admin/batches/config); the answer is then Route's.
  static bool Handles(const HttpIn& req);
  HttpOut Route(const HttpIn& req);

  // For /stats: batches by state, request lines received (all, and distinct custom_ids), HTTP
  // requests to the batch routes, downloads (file contents, results) answered and still going.
  nlohmann::json StatsJson();

 private:
  struct File {
    std::string id, filename, purpose, content;
    int64_t created_s = 0;
  };
  struct Batch {
    WireFormat format = WireFormat::kOpenAi;
    std::string id;
    std::string endpoint, input_file_id, completion_window;
    nlohmann::json metadata;
    std::vector<std::pair<std::string, std::string>> requests;  // (custom_id, body JSON)
    int64_t created_ms = 0;
    int64_t estimated_tokens = 0;
    std::string state = "in_progress";  // in_progress, cancelling, cancelled, completed, expired
    int64_t ended_ms = 0, cancel_ms = 0;
    std::vector<std::string> results;  // Anthropic results lines / OpenAI output lines
    std::vector<std::string> errors;   // OpenAI error-file lines
    std::string output_file_id, error_file_id;
    nlohmann::json failure;  // OpenAI: the errors of a batch that failed validation
    int64_t succeeded = 0, errored = 0, canceled = 0, expired = 0;
  };

  HttpOut OpenAiFiles(const HttpIn& req);
  HttpOut OpenAiBatches(const HttpIn& req);
  HttpOut AnthropicBatches(const HttpIn& req);
  // Ends `b` if its time has come (answers its requests); the caller holds mu_.
  void Advance(Batch& b);
  void Finish(Batch& b, bool cancelled);
  nlohmann::json OpenAiBatchJson(const Batch& b) const;
  nlohmann::json AnthropicBatchJson(const Batch& b, const std::string& host) const;
  // A file content or results answer: spread over download_ms, counted; the caller holds mu_.
  HttpOut Download(std::string content_type, std::string body);
  std::string NewId(const std::string& prefix);
  int64_t OpenTokens() const;  // estimated tokens of open OpenAI batches

  AnswerFn answer_;
  NowFn now_;
  std::mutex mu_;
  BatchConfig config_;
  std::map<std::string, File> files_;
  std::map<std::string, Batch> batches_;
  std::vector<std::string> order_;            // batch ids, oldest first
  std::map<std::string, int64_t> submitted_;  // custom_id -> times received in a batch
  int64_t lines_received_ = 0;
  int64_t http_requests_ = 0;
  int64_t downloads_ = 0;
  // Downloads whose body is still being sent; shared with the answers' `finished` callbacks.
  std::shared_ptr<std::atomic<int64_t>> downloading_ = std::make_shared<std::atomic<int64_t>>(0);
  uint64_t next_id_ = 1;
};

// The parts of a multipart/form-data body: name -> (filename, content). Fails on a malformed
// body.
struct FormPart {
  std::string filename, content;
};
Result<std::map<std::string, FormPart>> ParseMultipart(const std::string& content_type,
                                                       const std::string& body);

}  // namespace codesweep::fakellm
