// HttpServer over Boost.Beast: one Session per connection, all on one io_context run by one
// thread: read a request, ask the handler, write the answer, read the next one.
#include "view/http_server.h"

#include <strings.h>

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange unincluded
// clang-format off
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
// clang-format on
#include <chrono>
#include <optional>

namespace codesweep::view {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Millis = std::chrono::milliseconds;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpServerOptions& options, const HttpServer::Handler& handler)
      : stream_(std::move(socket)), options_(options), handler_(handler) {}

  void Read() {
    parser_.emplace();
    parser_->body_limit(64 * 1024);  // the viewer takes no uploads
    parser_->header_limit(64 * 1024);
    stream_.expires_after(Millis(options_.idle_timeout_ms));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

 private:
  void OnRead(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset) {
      return Close();
    }
    HttpResponse out;
    if (ec) {
      keep_alive_ = false;
      out = HttpResponse{.status = 400, .body = "{\"error\":\"malformed HTTP request\"}"};
    } else {
      http::request<http::string_body> req = parser_->release();
      keep_alive_ = req.keep_alive();
      HttpRequest in{.method = std::string(req.method_string()), .path = std::string(req.target())};
      if (size_t q = in.path.find('?'); q != std::string::npos) {
        in.query = in.path.substr(q + 1);
        in.path.resize(q);
      }
      for (const auto& field : req) {
        in.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      }
      out = handler_(in);
      head_only_ = in.method == "HEAD";
    }
    Write(std::move(out));
  }

  void Write(HttpResponse out) {
    res_.emplace(static_cast<http::status>(out.status), 11);
    for (auto& [name, value] : out.headers) res_->insert(name, value);
    res_->set(http::field::content_type, out.content_type);
    res_->keep_alive(keep_alive_);
    res_->body() = std::move(out.body);
    res_->prepare_payload();
    if (head_only_) res_->body().clear();
    stream_.expires_after(Millis(options_.idle_timeout_ms));
    http::async_write(stream_, *res_,
                      beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t) {
    res_.reset();
    if (ec || !keep_alive_) return Close();
    Read();
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  const HttpServerOptions& options_;
  const HttpServer::Handler& handler_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> res_;
  bool keep_alive_ = true;
  bool head_only_ = false;
};

}  // namespace

std::string HttpRequest::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n.size() == name.size() && strncasecmp(n.data(), name.data(), n.size()) == 0) return v;
  }
  return "";
}

struct HttpServer::Impl {
  Impl(HttpServerOptions o, Handler h)
      : options(std::move(o)), handler(std::move(h)), io(1), acceptor(io), retry_timer(io) {}

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (ec) {  // e.g. out of descriptors: try again shortly rather than spin
        retry_timer.expires_after(Millis(10));
        retry_timer.async_wait([this](beast::error_code) { Accept(); });
        return;
      }
      beast::error_code ignored;
      s.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Session>(std::move(s), options, handler)->Read();
      Accept();
    });
  }

  HttpServerOptions options;
  Handler handler;
  asio::io_context io;
  tcp::acceptor acceptor;
  asio::steady_timer retry_timer;
};

HttpServer::HttpServer(HttpServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { Stop(); }

Result<int> HttpServer::Bind() {
  beast::error_code ec;
  const asio::ip::address address = asio::ip::make_address(impl_->options.host, ec);
  if (ec) return Status::InvalidArgument("bad listen address " + impl_->options.host);
  const tcp::endpoint endpoint(address, static_cast<uint16_t>(impl_->options.port));
  tcp::acceptor& a = impl_->acceptor;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen on " + impl_->options.host + ":" +
                               std::to_string(impl_->options.port) + ": " + ec.message());
  }
  return static_cast<int>(a.local_endpoint().port());
}

void HttpServer::Serve() {
  asio::post(impl_->io, [this] { impl_->Accept(); });
  impl_->io.run();
}

void HttpServer::Stop() { impl_->io.stop(); }

}  // namespace codesweep::view
