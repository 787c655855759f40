// ZeroMQ adapter (cppzmq). All zmq exceptions are caught here and become Status values.
#include "transport/wire.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>
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
  // watch_disconnects: the PAIR end of the socket monitor, and which connection (file
  // descriptor, as the monitor and ZMQ_SRCFD name it) each peer's latest message came on.
  std::unique_ptr<zmq::socket_t> monitor;
  std::unordered_map<int, std::string> fd_peer;
  std::unordered_map<std::string, int> peer_fd;
  std::unordered_set<int> open_fds;  // accepted and not yet disconnected, in monitor order
  std::vector<std::string> gone;     // disconnected peers not yet taken

  ~Impl() {
    if (monitor) zmq_socket_monitor(socket.handle(), nullptr, 0);
  }
  Status NoteConnection(const std::string& peer, zmq::message_t& msg);
  void Watch(const std::string& peer, int fd);
  Status DrainMonitor();
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

// Starts a monitor of `socket` for accepted and closed connections, read through a PAIR socket.
Result<std::unique_ptr<zmq::socket_t>> StartMonitor(WireContext& ctx, zmq::socket_t& socket) {
  static std::atomic<uint64_t> next{0};
  const std::string name = Str("inproc://codesweep-monitor-", getpid(), "-", next.fetch_add(1));
  if (zmq_socket_monitor(socket.handle(), name.c_str(),
                         ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0) {
    return Status::Unavailable(Str("zmq_socket_monitor: ", zmq_strerror(zmq_errno())));
  }
  try {
    auto pair = std::make_unique<zmq::socket_t>(ctx.impl()->ctx, zmq::socket_type::pair);
    pair->set(zmq::sockopt::linger, 0);
    pair->connect(name);
    return pair;
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(Str("zmq monitor socket: ", e.what()));
  }
}

}  // namespace

void Channel::Impl::Watch(const std::string& peer, int fd) {
  auto same = peer_fd.find(peer);
  if (same != peer_fd.end() && same->second == fd) return;
  if (same != peer_fd.end()) fd_peer.erase(same->second);  // it moved to a new connection
  auto other = fd_peer.find(fd);
  if (other != fd_peer.end()) peer_fd.erase(other->second);  // a reused descriptor
  peer_fd[peer] = fd;
  fd_peer[fd] = peer;
}

// Reads every pending monitor event. Each is two frames: 16-bit event and 32-bit value (the
// file descriptor), then the endpoint.
Status Channel::Impl::DrainMonitor() {
  try {
    zmq::message_t event, address;
    while (monitor->recv(event, zmq::recv_flags::dontwait)) {
      if (event.more()) (void)monitor->recv(address);
      if (event.size() < 6) continue;
      uint16_t id = 0;
      uint32_t value = 0;
      std::memcpy(&id, event.data(), sizeof(id));
      std::memcpy(&value, static_cast<const char*>(event.data()) + 2, sizeof(value));
      const int fd = static_cast<int>(value);
      if (id == ZMQ_EVENT_ACCEPTED) {
        open_fds.insert(fd);
        continue;
      }
      if (id != ZMQ_EVENT_DISCONNECTED) continue;
      open_fds.erase(fd);
      auto it = fd_peer.find(fd);
      if (it == fd_peer.end()) continue;
      gone.push_back(it->second);
      peer_fd.erase(it->second);
      fd_peer.erase(it);
    }
    return Status::OK();
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return Status::OK();
    return Status::Unavailable(Str("zmq monitor: ", e.what()));
  }
}

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
    if (kind == Kind::kRouter && options.watch_disconnects) {
      CS_ASSIGN_OR_RETURN(impl->monitor, StartMonitor(ctx, impl->socket));
    }
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
      if (impl_->monitor) CS_RETURN_IF_ERROR(impl_->NoteConnection(out->peer, msg));
    }
    out->multipart = payload_parts != 1;
    out->frame = payload_parts == 0 ? std::string() : std::move(parts.back());
    return true;
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return false;
    return Status::Unavailable(Str("zmq recv: ", e.what()));
  }
}

// The connection a message came on (ZMQ_SRCFD). Events up to its acceptance are read first, so
// a disconnect of an earlier connection on a reused descriptor is never pinned on this peer.
Status Channel::Impl::NoteConnection(const std::string& peer, zmq::message_t& msg) {
  const int fd = zmq_msg_get(msg.handle(), ZMQ_SRCFD);
  if (fd < 0) return Status::OK();  // not from a tcp/ipc connection
  if (!open_fds.count(fd)) CS_RETURN_IF_ERROR(DrainMonitor());
  Watch(peer, fd);
  return Status::OK();
}

Result<std::vector<std::string>> Channel::TakeDisconnected() {
  std::vector<std::string> out;
  if (!impl_->monitor) return out;
  CS_RETURN_IF_ERROR(impl_->DrainMonitor());
  for (std::string& peer : impl_->gone) {
    // Seen on a newer connection since (a reconnect, or ROUTER_HANDOVER): still there.
    if (!impl_->peer_fd.count(peer)) out.push_back(std::move(peer));
  }
  impl_->gone.clear();
  return out;
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
  return Poll(channels, timeout, ready, -1, nullptr);
}

Result<int> Poll(const std::vector<Channel*>& channels, std::chrono::milliseconds timeout,
                 std::vector<bool>* ready, int fd, bool* fd_ready) {
  if (fd_ready != nullptr) *fd_ready = false;
  std::vector<zmq::pollitem_t> items;
  std::vector<size_t> owner;  // channel index of each item (monitors follow the channels)
  items.reserve(channels.size());
  for (size_t i = 0; i < channels.size(); ++i) {
    items.push_back({channels[i]->impl()->socket.handle(), 0, ZMQ_POLLIN, 0});
    owner.push_back(i);
  }
  for (size_t i = 0; i < channels.size(); ++i) {
    if (!channels[i]->impl()->monitor) continue;
    items.push_back({channels[i]->impl()->monitor->handle(), 0, ZMQ_POLLIN, 0});
    owner.push_back(i);
  }
  const size_t socket_items = items.size();
  if (fd >= 0) items.push_back({nullptr, fd, ZMQ_POLLIN, 0});
  ready->assign(channels.size(), false);
  try {
    zmq::poll(items, timeout);
    for (size_t i = 0; i < socket_items; ++i) {
      if (items[i].revents & ZMQ_POLLIN) (*ready)[owner[i]] = true;
    }
    if (fd >= 0 && fd_ready != nullptr) *fd_ready = (items.back().revents & ZMQ_POLLIN) != 0;
    return static_cast<int>(std::count(ready->begin(), ready->end(), true));
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
