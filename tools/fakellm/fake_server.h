// FakeServer: fakellm's request logic over HttpServer (http_server.h). Speaks OpenAI Chat
// Completions (POST /v1/chat/completions) and Anthropic Messages (POST /v1/messages), enforces
// per-key RPM/TPM with 429s, injects latency and faults, answers from a replay file, the sim model
// or a generic reply, and serves GET /stats, GET|POST /admin/config, POST /admin/reset-stats.
// Requests are handled on the server's I/O threads; latency is a timer, not a sleeping thread.
// Stop() may be called from any thread.
#pragma once

#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "base/log.h"
#include "http/http_server.h"
#include "jobs/llm/llm_client.h"
#include "jobs/llm/provider_options.h"
#include "jobs/tasks/task.h"
#include "tools/fakellm/fake_batches.h"
#include "tools/fakellm/fake_config.h"

namespace codesweep::fakellm {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;             // 0 = any free port
  int threads = 4;          // I/O threads; every connection is multiplexed over them
  std::string replay_path;  // scripted responses (docs/llm.md); "" = none
  std::string record_path;  // append every answered request as JSONL; "" = none
  std::string data_dir;     // tasks' data for X-Codesweep-Cell answers
};

class FakeServer {
 public:
  FakeServer(ServerOptions options, FakeConfig config, Logger* logger);
  ~FakeServer();
  // Loads the replay file and task registry, binds. Returns the bound port.
  Result<int> Bind();
  // Serves until Stop().
  void Serve();
  void Stop();

 private:
  struct KeyStats {
    int64_t requests = 0, ok = 0, rate_limited = 0, tokens_in = 0, tokens_out = 0;
  };
  struct Stats {
    KeyStats total;
    int64_t errors_5xx = 0, client_errors = 0, drops = 0, truncated = 0, slow = 0, oversize = 0;
    int64_t empty = 0, prompts_cut = 0;
    int64_t max_inflight = 0;
    // CLOCK_MONOTONIC ms of the first and latest admitted request (0 = none yet)
    int64_t first_admit_ms = 0, last_admit_ms = 0;
    std::map<std::string, KeyStats> keys;
  };

  HttpOut Route(HttpIn& req);
  HttpOut Handle(WireFormat format, const HttpIn& req);
  Result<LlmResponse> Answer(WireFormat format, const HttpIn& req, const LlmRequest& request,
                             const std::string& model);
  Result<LlmResponse> Replay(const HttpIn& req, const LlmRequest& request);
  LlmResponse SimOrGeneric(WireFormat format, const HttpIn& req, const LlmRequest& request,
                           const std::string& model);
  void Record(const LlmRequest& request, const LlmResponse& response);
  bool ApplyFault(WireFormat format, const FakeConfig& c, uint64_t rng_seed, std::string body,
                  HttpOut& res);
  HttpOut Admin(HttpIn& req);
  void Count(const std::string& key, const std::function<void(KeyStats&)>& f);
  nlohmann::json StatsJson();
  FakeConfig Config();

  ServerOptions options_;
  Logger* logger_;
  std::unique_ptr<TaskRegistry> tasks_;
  nlohmann::json replay_;
  std::ofstream record_;
  std::mutex record_mu_;

  std::mutex mu_;  // guards config_, stats_
  FakeConfig config_;
  Stats stats_;
  KeyLimiter limiter_;
  std::atomic<int64_t> inflight_{0};
  std::atomic<uint64_t> counter_{0};
  std::unique_ptr<BatchApi> batches_;  // the batch APIs (fake_batches.h)
  std::unique_ptr<HttpServer> http_;   // last: stopped and destroyed before the state it uses
};

}  // namespace codesweep::fakellm
