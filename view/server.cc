// ViewServer: routing, access control and the built-in assets of `codesweep view`.
#include "view/server.h"

#include <openssl/crypto.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string_view>
#include <utility>

#include "coordinator/store/report_queries.h"
#include "view/api.h"
#include "view/view_assets.h"

namespace codesweep::view {
namespace {

constexpr std::string_view kCookie = "codesweep_view_token=";

// Model output is hostile: the page builds its DOM from text nodes only, and the policy below
// stops any script, handler or frame the escaping might miss. Vega compiles its expressions with
// Function(), hence 'unsafe-eval'; inline scripts and event handlers stay forbidden.
constexpr const char* kPolicy =
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none';"
    " frame-ancestors 'none'; form-action 'none'";

HttpResponse Text(int status, std::string body) {
  return HttpResponse{
      .status = status, .content_type = "text/plain; charset=utf-8", .body = std::move(body)};
}

void AddSecurityHeaders(HttpResponse& r) {
  r.headers.emplace_back("Content-Security-Policy", kPolicy);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Cache-Control", "no-store");
}

// CPU time of the calling thread (the server's one handler thread), in milliseconds.
double ThreadCpuMs() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

bool SameSecret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

bool IsLoopback(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  if (!host.starts_with("127.") || std::count(host.begin(), host.end(), '.') != 3) return false;
  return host.find_first_not_of("0123456789.") == std::string::npos;
}

Result<std::unique_ptr<ViewServer>> ViewServer::Create(const ViewOptions& options) {
  CS_ASSIGN_OR_RETURN(std::unique_ptr<ReportDb> db, ReportDb::Open(options.db_path));
  // The server's memory stays bounded on any database: a page cache of at most 32 MiB (it keeps
  // the upper levels of the indexes the pages walk) and no memory-mapped reads.
  for (const char* pragma : {"PRAGMA cache_size = -32768", "PRAGMA mmap_size = 0"}) {
    CS_ASSIGN_OR_RETURN(QueryRows ignored, db->QueryRowsOf(pragma, {}));
    (void)ignored;
  }
  auto api = std::make_unique<ViewApi>(std::move(db), options.db_path);
  return std::unique_ptr<ViewServer>(new ViewServer(options, std::move(api)));
}

ViewServer::ViewServer(ViewOptions options, std::unique_ptr<ViewApi> api)
    : options_(std::move(options)), api_(std::move(api)) {
  // One I/O thread: the handler uses the one read-only database connection. The viewer takes no
  // uploads, so request bodies are small.
  HttpServerOptions http{.host = options_.host,
                         .port = options_.port,
                         .threads = 1,
                         .max_body_bytes = 64 * 1024,
                         .idle_timeout_ms = 60'000};
  http_ = std::make_unique<HttpServer>(
      http, [this](const HttpRequest& request) { return Handle(request); });
}

ViewServer::~ViewServer() = default;

// Without a token, a page on another site could reach a loopback server through a DNS name that
// resolves to 127.0.0.1 (DNS rebinding): such requests carry that name as their Host.
bool ViewServer::HostAllowed(const std::string& host_header) const {
  if (!options_.token.empty() || host_header.empty()) return true;
  std::string host = host_header;
  if (host.starts_with("[")) {
    host = host.substr(1, host.find(']') - 1);
  } else if (size_t colon = host.rfind(':'); colon != std::string::npos) {
    host.resize(colon);
  }
  return IsLoopback(host) || host == options_.host;
}

bool ViewServer::Authorized(const HttpRequest& request, const std::string& query_token) const {
  if (options_.token.empty()) return true;
  if (SameSecret(query_token, options_.token)) return true;
  const std::string cookies = request.Header("Cookie");
  for (size_t at = cookies.find(kCookie); at != std::string::npos;
       at = cookies.find(kCookie, at + 1)) {
    if (at != 0 && cookies[at - 1] != ' ' && cookies[at - 1] != ';') continue;
    const size_t start = at + kCookie.size();
    const size_t end = cookies.find(';', start);
    if (SameSecret(cookies.substr(start, end - start), options_.token)) return true;
  }
  return false;
}

HttpResponse ViewServer::Handle(const HttpRequest& request) {
  const Params params = ParseQuery(request.query);
  auto token = params.find("token");
  const std::string query_token = token == params.end() ? "" : token->second;
  HttpResponse out;
  if (request.method != "GET" && request.method != "HEAD") {
    out = Text(405, "codesweep view is read-only\n");
  } else if (!HostAllowed(request.Header("Host"))) {
    out = Text(403, "codesweep view answers only requests addressed to this machine\n");
  } else if (!Authorized(request, query_token)) {
    out = Text(403, "open the address with ?token=... that codesweep view printed at start\n");
  } else if (request.path.starts_with("/api/")) {
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = ThreadCpuMs();
    ApiAnswer a = api_->Handle(request.path.substr(5), params);
    out = HttpResponse{.status = a.status, .body = std::move(a.json)};
    // The server's own time and the CPU time it used (the W3C Server-Timing header;
    // tools/bench/bench_view.py reads both: on a busy machine the first also waits for a core).
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    char timing[80];
    snprintf(timing, sizeof timing, "app;dur=%.1f, cpu;dur=%.1f", ms, ThreadCpuMs() - cpu_start);
    out.headers.emplace_back("Server-Timing", timing);
  } else {
    const std::string path = request.path == "/" ? "/index.html" : request.path;
    out = Text(404, "not found\n");
    for (const Asset& asset : kAssets) {
      if (path == asset.path) {
        out = HttpResponse{.content_type = std::string(asset.type) + "; charset=utf-8",
                           .body = asset.data};
      }
    }
  }
  if (!options_.token.empty() && SameSecret(query_token, options_.token)) {
    out.headers.emplace_back("Set-Cookie", std::string(kCookie) + options_.token +
                                               "; Path=/; HttpOnly; SameSite=Strict");
  }
  AddSecurityHeaders(out);
  return out;
}

}  // namespace codesweep::view
