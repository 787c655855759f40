// HttpEngine: the one HTTP layer (the only libcurl user). A few engine threads (shards) each
// drive a curl multi handle for the transfers of the process, so many requests are in flight
// without a thread per call; connections are kept alive and reused. Send() blocks its caller until
// its transfer ends; SendAsync() calls back on the engine thread. Thread-safe; share one engine per
// process.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "jobs/llm/retry.h"

namespace codesweep {

struct HttpRequest {
  std::string url;
  std::string method = "POST";
  HttpHeaders headers;
  std::string body;
  int64_t connect_timeout_ms = 10'000;
  int64_t timeout_ms = 120'000;                   // whole transfer
  int64_t max_response_bytes = 32 * 1024 * 1024;  // larger bodies fail (kResourceExhausted)
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;  // names lower-case
  std::string body;
};

struct HttpEngineOptions {
  // Connections kept in curl's cache (keep-alive), busy ones included: it must exceed the calls
  // in flight, or every finished call closes a connection and the next one opens a new one.
  int64_t max_connections = 65'536;
  int64_t max_host_connections = 0;  // per host; 0 = unlimited (both limits are per shard)
  // Engine threads, each with its own curl multi handle and connection cache; a request goes to
  // the one with the fewest transfers in flight. curl's search for a reusable connection walks
  // every connection to the host, so one cache should hold hundreds, not 10,000.
  int shards = 8;
};

class HttpEngine {
 public:
  using Callback = std::function<void(Result<HttpResponse>)>;
  virtual ~HttpEngine() = default;
  // Transport failures: kDeadlineExceeded (timeout), kUnavailable (connect, reset, partial
  // body), kResourceExhausted (body over max_response_bytes).
  virtual Result<HttpResponse> Send(HttpRequest request) = 0;
  virtual void SendAsync(HttpRequest request, Callback done) = 0;
  virtual int64_t in_flight() const = 0;
};

// Starts the engine thread; it stops (cancelling transfers with kUnavailable) on destruction.
Result<std::shared_ptr<HttpEngine>> MakeHttpEngine(const HttpEngineOptions& options = {});

}  // namespace codesweep
