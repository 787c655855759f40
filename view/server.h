// ViewServer: `codesweep view`, a local web viewer of a codesweep database. It serves the page
// application (view/assets, built into the binary with the vendored Vega of report/vendor) and
// the JSON of ViewApi over one read-only connection, on one thread. Loopback by default; any
// other bind needs the access token (sent once as ?token=, then kept in a cookie).
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "http/http_server.h"

namespace codesweep::view {

// The shared HTTP server's request and answer (http/http_server.h), by the viewer's names.
using HttpRequest = HttpIn;
using HttpResponse = HttpOut;

struct ViewOptions {
  std::string db_path;
  std::string host = "127.0.0.1";
  int port = 8765;    // 0 = any free port
  std::string token;  // required of every request when not empty
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopback(const std::string& host);

class ViewApi;

class ViewServer {
 public:
  // Opens the database read-only; fails on a missing or non-codesweep file.
  static Result<std::unique_ptr<ViewServer>> Create(const ViewOptions& options);
  ~ViewServer();

  Result<int> Bind() { return http_->Bind(); }
  void Serve() { http_->Serve(); }
  void Stop() { http_->Stop(); }

  // The answer to one request (public for tests).
  HttpResponse Handle(const HttpRequest& request);

 private:
  ViewServer(ViewOptions options, std::unique_ptr<ViewApi> api);
  bool Authorized(const HttpRequest& request, const std::string& query_token) const;
  bool HostAllowed(const std::string& host_header) const;

  ViewOptions options_;
  std::unique_ptr<ViewApi> api_;
  std::unique_ptr<HttpServer> http_;
};

}  // namespace codesweep::view
