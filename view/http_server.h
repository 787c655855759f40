// ViewHttpServer: the HTTP/1.1 layer of `codesweep view` (Boost.Beast over Asio, the library
// fakellm uses). One thread runs every connection (keep-alive connections are multiplexed); the
// handler runs on that thread, so it may use a single-threaded database connection. Stop() may
// be called from any thread, also before Serve().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace codesweep::view {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET", "HEAD", ...
  std::string path;    // the target without its query string, still percent-encoded
  std::string query;   // after '?', still percent-encoded ("" when none)
  HeaderList headers;
  // The first header called `name` (case-insensitive), or "".
  std::string Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  HeaderList headers;
  std::string body;
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8765;                   // 0 = any free port
  int64_t idle_timeout_ms = 60'000;  // keep-alive connections idle this long are closed
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  HttpServer(HttpServerOptions options, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens. Returns the bound port.
  Result<int> Bind();
  // Serves on the calling thread until Stop().
  void Serve();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace codesweep::view
