// ZeroMQ adapter (cppzmq). All zmq exceptions are caught here and become Status values.
#include "schema/wire.h"

#include <zmq.hpp>

#include "schema/log.h"

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
    } else {
      if (!o.identity.empty()) s->set(zmq::sockopt::routing_id, o.identity);
      s->set(zmq::sockopt::reconnect_ivl, o.reconnect_ivl_ms);
      s->set(zmq::sockopt::reconnect_ivl_max, o.reconnect_ivl_max_ms);
    }
    return s;
  } catch (const zmq::error_t& e) {
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

}  // namespace codesweep
