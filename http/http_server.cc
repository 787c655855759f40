// HttpServer over Boost.Beast: one Session per connection, each on its own strand; read a
// request, ask the handler, wait out its delay on a steady_timer, write, read the next one.
#include "http/http_server.h"

#include <strings.h>
#include <sys/socket.h>

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange unincluded
// clang-format off
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
// clang-format on
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <optional>
#include <thread>

namespace codesweep {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Millis = std::chrono::milliseconds;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpServerOptions& options, const HttpServer::Handler& handler)
      : stream_(std::move(socket)),
        timer_(stream_.get_executor()),
        options_(options),
        handler_(handler) {}

  ~Session() { Finished(); }

  void Start() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::Read, shared_from_this()));
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(static_cast<uint64_t>(options_.max_body_bytes));
    parser_->header_limit(64 * 1024);
    stream_.expires_after(Millis(options_.idle_timeout_ms));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec == http::error::body_limit) return Refuse(413, "request body too large");
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset) {
      return Close();
    }
    if (ec) return Refuse(400, "malformed HTTP request");
    http::request<http::string_body> req = parser_->release();
    keep_alive_ = req.keep_alive();
    HttpIn in{.method = std::string(req.method_string()), .path = std::string(req.target())};
    if (size_t q = in.path.find('?'); q != std::string::npos) {
      in.query = in.path.substr(q + 1);
      in.path.resize(q);
    }
    for (const auto& field : req) {
      in.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    in.body = std::move(req.body());
    head_only_ = in.method == "HEAD";
    out_ = handler_(in);
    if (out_.delay_ms <= 0) return Write();
    stream_.expires_never();
    timer_.expires_after(Millis(out_.delay_ms));
    timer_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
      if (wait_ec) return;
      beast::error_code ignored;               // the socket may be closed already (server stopping)
      self->stream_.socket().cancel(ignored);  // the hang-up watch below
      self->Write();
    });
    // A client that hangs up during the delay (e.g. its timeout) ends the request at once, as a
    // provider stops generating for a closed connection.
    stream_.socket().async_wait(tcp::socket::wait_read,
                                [self = shared_from_this()](beast::error_code wait_ec) {
                                  if (!wait_ec && self->PeerClosed()) {
                                    self->timer_.cancel();
                                    self->Close();
                                  }
                                });
  }

  bool PeerClosed() {
    char byte = 0;
    const ssize_t n = ::recv(stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
  }

  void Refuse(int status, const std::string& message) {  // message: plain ASCII, no quotes
    keep_alive_ = false;
    out_ = HttpOut{.status = status, .body = "{\"error\":\"" + message + "\"}"};
    Write();
  }

  void Write() {
    res_.emplace(static_cast<http::status>(out_.status), 11);
    for (auto& [name, value] : out_.headers) res_->insert(name, value);
    res_->set(http::field::content_type, out_.content_type);
    res_->keep_alive(keep_alive_ && !out_.drop);
    res_->body() = std::move(out_.body);
    res_->prepare_payload();
    if (head_only_) res_->body().clear();  // Content-Length stays that of the GET answer
    stream_.expires_after(Millis(options_.write_timeout_ms));
    serializer_.emplace(*res_);
    if (out_.drop) {  // the headers promise a body that never comes
      http::async_write_header(
          stream_, *serializer_,
          [self = shared_from_this()](beast::error_code, size_t) { self->Close(); });
      return;
    }
    if (out_.spread_ms > 0 && !head_only_ && !res_->body().empty()) {
      // Content-Length is set for the whole body; the headers go now, the body piece by piece.
      spread_ = std::move(res_->body());
      res_->body().clear();
      spread_at_ = 0;
      serializer_.emplace(*res_);
      http::async_write_header(stream_, *serializer_,
                               [self = shared_from_this()](beast::error_code ec, size_t) {
                                 if (ec) return self->Close();
                                 self->WritePiece();
                               });
      return;
    }
    http::async_write(stream_, *serializer_,
                      beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  // The next piece of a spread body, then a pause; OnWrite after the last piece.
  void WritePiece() {
    const size_t piece = (spread_.size() + HttpOut::kSpreadPieces - 1) / HttpOut::kSpreadPieces;
    const size_t n = std::min(std::max<size_t>(piece, 1), spread_.size() - spread_at_);
    stream_.expires_after(Millis(options_.write_timeout_ms));
    asio::async_write(
        stream_, asio::buffer(spread_.data() + spread_at_, n),
        [self = shared_from_this()](beast::error_code ec, size_t written) {
          if (ec) return self->Close();  // the client went away mid-body
          self->spread_at_ += written;
          if (self->spread_at_ >= self->spread_.size()) {
            self->spread_.clear();
            return self->OnWrite({}, 0);
          }
          self->stream_.expires_never();
          self->timer_.expires_after(Millis(self->out_.spread_ms / HttpOut::kSpreadPieces));
          self->timer_.async_wait([self](beast::error_code wait_ec) {
            if (wait_ec) return self->Close();
            self->WritePiece();
          });
        });
  }

  void OnWrite(beast::error_code ec, size_t) {
    Finished();
    serializer_.reset();
    res_.reset();
    if (ec || !keep_alive_) return Close();
    Read();
  }

  void Close() {
    Finished();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  void Finished() {
    if (out_.finished) std::exchange(out_.finished, nullptr)();
  }

  beast::tcp_stream stream_;
  asio::steady_timer timer_;
  const HttpServerOptions& options_;
  const HttpServer::Handler& handler_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> res_;
  std::optional<http::response_serializer<http::string_body>> serializer_;
  HttpOut out_;
  std::string spread_;  // the body of a spread answer
  size_t spread_at_ = 0;
  bool keep_alive_ = true;
  bool head_only_ = false;
};

}  // namespace

std::string HttpIn::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n.size() == name.size() && strncasecmp(n.data(), name.data(), n.size()) == 0) return v;
  }
  return "";
}

struct HttpServer::Impl {
  Impl(HttpServerOptions o, Handler h)
      : options(std::move(o)),
        handler(std::move(h)),
        io(std::max(1, options.threads)),
        acceptor(asio::make_strand(io)),
        retry_timer(acceptor.get_executor()) {}

  void Accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (ec) {  // e.g. out of descriptors: try again shortly rather than spin
        retry_timer.expires_after(Millis(10));
        retry_timer.async_wait([this](beast::error_code) { Accept(); });
        return;
      }
      beast::error_code ignored;
      s.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Session>(std::move(s), options, handler)->Start();
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
  asio::post(impl_->acceptor.get_executor(), [this] { impl_->Accept(); });
  std::vector<std::thread> threads;
  for (int i = 1; i < impl_->options.threads; ++i) {
    threads.emplace_back([this] { impl_->io.run(); });
  }
  impl_->io.run();
  for (std::thread& t : threads) t.join();
}

void HttpServer::Stop() { impl_->io.stop(); }

}  // namespace codesweep
