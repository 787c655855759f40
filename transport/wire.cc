// ZeroMQ adapter (cppzmq). All zmq exceptions are caught here and become Status values.
#include "transport/wire.h"

#include <filesystem>
#include <fstream>
#include <thread>
#include <zmq.hpp>

#include "base/log.h"

namespace codesweep {

struct WireContext::Impl {
  zmq::context_t ctx{1};
};

WireContext::WireContext() : impl_(std::make_unique<Impl>()) {}
WireContext::~WireContext() = default;

struct Channel::Impl {
  Kind kind;
  zmq::socket_t socket;
  std::string endpoint;
};

namespace {

constexpr std::string_view kZapDomain = "codesweep";
constexpr size_t kZ85KeyChars = 40;

Result<std::unique_ptr<zmq::socket_t>> MakeSocket(WireContext& ctx, Channel::Kind kind,
                                                  const ChannelOptions& o) {
  try {
    auto type =
        kind == Channel::Kind::kRouter ? zmq::socket_type::router : zmq::socket_type::dealer;
    auto s = std::make_unique<zmq::socket_t>(ctx.impl()->ctx, type);
    s->set(zmq::sockopt::linger, o.linger_ms);
    s->set(zmq::sockopt::sndhwm, o.hwm);
    s->set(zmq::sockopt::rcvhwm, o.hwm);
    s->set(zmq::sockopt::maxmsgsize, o.max_frame_bytes);
    if (kind == Channel::Kind::kRouter) {
      s->set(zmq::sockopt::router_mandatory, true);
      s->set(zmq::sockopt::router_handover, true);
      if (!o.curve_secret.empty()) {
        s->set(zmq::sockopt::curve_server, true);
        s->set(zmq::sockopt::curve_secretkey, o.curve_secret);
        s->set(zmq::sockopt::zap_domain, std::string(kZapDomain));
      }
    } else {
      if (!o.curve_server_key.empty()) {
        s->set(zmq::sockopt::curve_serverkey, o.curve_server_key);
        s->set(zmq::sockopt::curve_publickey, o.curve_public);
        s->set(zmq::sockopt::curve_secretkey, o.curve_secret);
      }
      if (!o.identity.empty()) s->set(zmq::sockopt::routing_id, o.identity);
      s->set(zmq::sockopt::reconnect_ivl, o.reconnect_ivl_ms);
      s->set(zmq::sockopt::reconnect_ivl_max, o.reconnect_ivl_max_ms);
    }
    return s;
  } catch (const zmq::error_t& e) {
    // Never carries key material: zmq only names the error.
    return Status::Unavailable(Str("zmq socket: ", e.what()));
  }
}

}  // namespace

Channel::Channel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Channel::~Channel() = default;

Result<std::unique_ptr<Channel>> Channel::Bind(WireContext& ctx, Kind kind,
                                               const std::string& endpoint,
                                               const ChannelOptions& options) {
  CS_ASSIGN_OR_RETURN(auto sock, MakeSocket(ctx, kind, options));
  try {
    sock->bind(endpoint);
    std::string bound = sock->get(zmq::sockopt::last_endpoint);
    auto impl = std::unique_ptr<Impl>(new Impl{kind, std::move(*sock), bound});
    return std::unique_ptr<Channel>(new Channel(std::move(impl)));
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(Str("cannot bind ", endpoint, ": ", e.what()));
  }
}

Result<std::unique_ptr<Channel>> Channel::Connect(WireContext& ctx, Kind kind,
                                                  const std::string& endpoint,
                                                  const ChannelOptions& options) {
  CS_ASSIGN_OR_RETURN(auto sock, MakeSocket(ctx, kind, options));
  try {
    sock->connect(endpoint);
    auto impl = std::unique_ptr<Impl>(new Impl{kind, std::move(*sock), endpoint});
    return std::unique_ptr<Channel>(new Channel(std::move(impl)));
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(Str("cannot connect ", endpoint, ": ", e.what()));
  }
}

std::string Channel::endpoint() const { return impl_->endpoint; }

Result<bool> Channel::Recv(Envelope* out) {
  try {
    std::vector<std::string> parts;
    zmq::message_t msg;
    while (true) {
      auto got = impl_->socket.recv(
          msg, parts.empty() ? zmq::recv_flags::dontwait : zmq::recv_flags::none);
      if (!got) return false;
      parts.emplace_back(static_cast<const char*>(msg.data()), msg.size());
      if (!msg.more()) break;
    }
    size_t payload_parts = parts.size();
    out->peer.clear();
    if (impl_->kind == Kind::kRouter) {
      out->peer = std::move(parts.front());
      --payload_parts;
    }
    out->multipart = payload_parts != 1;
    out->frame = payload_parts == 0 ? std::string() : std::move(parts.back());
    return true;
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return false;
    return Status::Unavailable(Str("zmq recv: ", e.what()));
  }
}

Result<bool> Channel::RecvWait(Envelope* out, std::chrono::milliseconds timeout) {
  std::vector<bool> ready;
  CS_ASSIGN_OR_RETURN(int n, Poll({this}, timeout, &ready));
  if (n == 0) return false;
  return Recv(out);
}

Status Channel::Send(std::string_view peer, std::string_view frame) {
  try {
    if (impl_->kind == Kind::kRouter) {
      auto sent = impl_->socket.send(zmq::buffer(peer.data(), peer.size()),
                                     zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      if (!sent) return Status::Unavailable("peer queue full");
    }
    auto sent =
        impl_->socket.send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::dontwait);
    if (!sent) return Status::Unavailable("send queue full");
    return Status::OK();
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(Str("zmq send: ", e.what()));
  }
}

Result<int> Poll(const std::vector<Channel*>& channels, std::chrono::milliseconds timeout,
                 std::vector<bool>* ready) {
  std::vector<zmq::pollitem_t> items;
  items.reserve(channels.size());
  for (Channel* c : channels) {
    items.push_back({c->impl()->socket.handle(), 0, ZMQ_POLLIN, 0});
  }
  ready->assign(channels.size(), false);
  try {
    int n = zmq::poll(items, timeout);
    for (size_t i = 0; i < items.size(); ++i) (*ready)[i] = (items[i].revents & ZMQ_POLLIN) != 0;
    return n;
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return 0;
    return Status::Unavailable(Str("zmq poll: ", e.what()));
  }
}

// ---- CURVE keys and the ZAP handler ----

Result<CurveKeyPair> GenerateCurveKeyPair() {
  char pub[kZ85KeyChars + 1] = {0}, sec[kZ85KeyChars + 1] = {0};
  if (zmq_curve_keypair(pub, sec) != 0) {
    return Status::Unavailable(Str("zmq_curve_keypair: ", zmq_strerror(zmq_errno())));
  }
  return CurveKeyPair{pub, sec};
}

Result<std::string> CurvePublicFromSecret(const std::string& secret_z85) {
  char pub[kZ85KeyChars + 1] = {0};
  if (secret_z85.size() != kZ85KeyChars || zmq_curve_public(pub, secret_z85.c_str()) != 0) {
    return Status::InvalidArgument("not a valid Z85 CURVE secret key");
  }
  return std::string(pub);
}

Result<std::string> ReadCurveKeyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound(Str("cannot read key file ", path));
  std::string line;
  while (std::getline(in, line)) {
    size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#') continue;
    size_t e = line.find_last_not_of(" \t\r");
    std::string key = line.substr(b, e - b + 1);
    uint8_t raw[32];
    if (key.size() != kZ85KeyChars || zmq_z85_decode(raw, key.c_str()) == nullptr) {
      return Status::InvalidArgument(
          Str("key file ", path, " does not hold a 40-character Z85 key"));
    }
    return key;
  }
  return Status::InvalidArgument(Str("key file ", path, " is empty"));
}

Result<std::set<std::string>> LoadAuthorizedKeys(const std::string& dir) {
  std::set<std::string> keys;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return Status::NotFound(Str("cannot list authorized keys in ", dir, ": ", ec.message()));
  for (const auto& entry : it) {
    if (entry.path().extension() != ".pub") continue;
    CS_ASSIGN_OR_RETURN(std::string key, ReadCurveKeyFile(entry.path().string()));
    keys.insert(std::move(key));
  }
  return keys;
}

struct ZapHandler::Impl {
  zmq::socket_t rep;
  std::thread thread;
};

Result<std::unique_ptr<ZapHandler>> ZapHandler::Start(WireContext& ctx,
                                                      std::set<std::string> allowed, Logger& log) {
  std::unique_ptr<ZapHandler> zap(new ZapHandler(log));
  zap->allowed_ = std::move(allowed);
  try {
    zmq::socket_t rep(ctx.impl()->ctx, zmq::socket_type::rep);
    rep.set(zmq::sockopt::linger, 0);
    rep.bind("inproc://zeromq.zap.01");
    zap->impl_ = std::unique_ptr<Impl>(new Impl{std::move(rep), {}});
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(Str("cannot start the ZAP handler: ", e.what()));
  }
  zap->impl_->thread = std::thread([z = zap.get()] { z->Serve(); });
  return zap;
}

ZapHandler::ZapHandler(Logger& log) : log_(log) {}

ZapHandler::~ZapHandler() {
  stop_.store(true);
  if (impl_ && impl_->thread.joinable()) impl_->thread.join();
}

void ZapHandler::SetAllowed(std::set<std::string> allowed) {
  std::lock_guard<std::mutex> lock(mu_);
  allowed_ = std::move(allowed);
}

size_t ZapHandler::allowed_count() {
  std::lock_guard<std::mutex> lock(mu_);
  return allowed_.size();
}

bool ZapHandler::Allowed(const std::string& public_z85) {
  std::lock_guard<std::mutex> lock(mu_);
  return allowed_.count(public_z85) > 0;
}

namespace {
// Receives one multipart message; false when none is waiting.
bool RecvParts(zmq::socket_t& s, std::vector<std::string>* parts) {
  parts->clear();
  zmq::message_t msg;
  while (true) {
    auto got = s.recv(msg, parts->empty() ? zmq::recv_flags::dontwait : zmq::recv_flags::none);
    if (!got) return false;
    parts->emplace_back(static_cast<const char*>(msg.data()), msg.size());
    if (!msg.more()) return true;
  }
}
}  // namespace

// RFC 27: request = version, request id, domain, address, identity, mechanism, credentials...;
// reply = version, request id, status code, status text, user id, metadata.
void ZapHandler::Serve() {
  std::vector<std::string> req;
  while (!stop_.load()) {
    try {
      zmq::pollitem_t item{impl_->rep.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) continue;
      if (!RecvParts(impl_->rep, &req)) continue;
      std::string request_id = req.size() > 1 ? req[1] : "";
      std::string code = "400", text = "refused", user;
      if (req.size() >= 7 && req[0] == "1.0" && req[5] == "CURVE" && req[6].size() == 32) {
        char z85[kZ85KeyChars + 1] = {0};
        zmq_z85_encode(z85, reinterpret_cast<const uint8_t*>(req[6].data()), 32);
        if (Allowed(z85)) {
          code = "200", text = "OK", user = z85;
        } else {
          ++refused_;
          log_.Warn(Str("refused unknown worker key ", z85, " from ", req[3]));
        }
      } else {
        ++refused_;
        log_.Warn(Str("refused a ", req.size() > 5 ? req[5] : "malformed", " handshake from ",
                      req.size() > 3 ? req[3] : "?", " (CURVE required)"));
      }
      std::vector<std::string> reply = {"1.0", request_id, code, text, user, ""};
      for (size_t i = 0; i < reply.size(); ++i) {
        impl_->rep.send(zmq::buffer(reply[i]),
                        i + 1 < reply.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      if (e.num() != EINTR) log_.Warn(Str("ZAP handler: ", e.what()));
    }
  }
}

}  // namespace codesweep
