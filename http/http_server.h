// HttpServer: the event-driven HTTP/1.1 server of fakellm and `codesweep view` (Boost.Beast over
// Asio). A few I/O threads (one for the viewer, whose handler uses one database connection)
// multiplex every connection; a handler returns its answer at once together with a delay, and the
// delay runs on a timer, so thousands of slow requests in flight cost no thread each. HEAD is
// answered like GET without the body. The handler runs on an I/O thread and must not block for
// long. Stop() may be called from any thread, also before Serve().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace codesweep {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpIn {
  std::string method;  // "GET", "POST", ...
  std::string path;    // the target without its query string, still percent-encoded
  std::string query;   // after '?', still percent-encoded ("" when none)
  HeaderList headers;  // as received
  std::string body;
  // The first header called `name` (case-insensitive), or "".
  std::string Header(std::string_view name) const;
};

struct HttpOut {
  int status = 200;
  std::string content_type = "application/json";
  HeaderList headers;
  std::string body;
  int64_t delay_ms = 0;  // send the answer this long after the request was read (a timer)
  bool drop = false;     // send the status line and headers, then close without the body
  // > 0: the body goes out in kSpreadPieces pieces spread over this long after the headers (a
  // slow download a client can be stopped in the middle of); HEAD and drop ignore it.
  int64_t spread_ms = 0;
  static constexpr int kSpreadPieces = 20;
  std::function<void()> finished;  // called once the answer is sent, dropped or cannot be sent
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;                               // 0 = any free port
  int threads = 4;                            // I/O threads (connections are multiplexed)
  int64_t max_body_bytes = 64 * 1024 * 1024;  // larger request bodies get 413
  int64_t idle_timeout_ms = 30'000;           // keep-alive connections idle this long are closed
  int64_t write_timeout_ms = 60'000;          // a client that reads no answer this long is cut
};

class HttpServer {
 public:
  using Handler = std::function<HttpOut(HttpIn&)>;
  HttpServer(HttpServerOptions options, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens (backlog SOMAXCONN). Returns the bound port.
  Result<int> Bind();
  // Runs the I/O threads (the caller's among them) until Stop().
  void Serve();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace codesweep
