// Wire channel: RAII over ZeroMQ sockets (the only zmq user). A Channel is one ROUTER or DEALER
// socket carrying one frame per message; Poll waits on several. A WireContext owns the zmq
// context; everything in one process that talks over inproc:// must share one. A Channel is used
// by one thread at a time (zmq sockets are not thread-safe); the WireContext is thread-safe and
// must outlive its channels. Errors come back as Status values, never as exceptions.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/log.h"
#include "base/status.h"
#include "schema/messages.h"

namespace codesweep {

class WireContext {
 public:
  WireContext();
  ~WireContext();
  WireContext(const WireContext&) = delete;
  WireContext& operator=(const WireContext&) = delete;
  struct Impl;
  Impl* impl() { return impl_.get(); }

 private:
  std::unique_ptr<Impl> impl_;
};

struct ChannelOptions {
  std::string identity;  // DEALER routing id (worker id); "" = assigned by zmq
  int linger_ms = 200;   // how long unsent frames may delay close
  int hwm = 200'000;     // send/receive high-water marks, in frames
  int64_t max_frame_bytes = static_cast<int64_t>(kMaxFrameBytes) + 1024;  // zmq drops peers past it
  int reconnect_ivl_ms = 100;       // DEALER: first TCP reconnect interval
  int reconnect_ivl_max_ms = 1000;  // DEALER: cap of zmq's own reconnect back-off
  // CURVE (Z85 keys, 40 characters). ROUTER: curve_secret set = CURVE server; a ZapHandler must
  // be started on the same WireContext before Bind. DEALER: curve_server_key set = CURVE client
  // with its own pair curve_public/curve_secret. All empty = plaintext. Never logged.
  std::string curve_secret;
  std::string curve_public;
  std::string curve_server_key;
  // ROUTER: watch the connections (a zmq socket monitor) so TakeDisconnected() can name the
  // peers whose TCP connection closed, e.g. a worker process that died.
  bool watch_disconnects = false;
};

// One received message: `peer` is the sender's routing id (ROUTER only), `frame` its payload.
struct Envelope {
  std::string peer;
  std::string frame;
  bool multipart = false;  // the sender used an unexpected framing (kept: last part)
};

class Channel {
 public:
  enum class Kind { kRouter, kDealer };
  // ROUTER sockets get ROUTER_MANDATORY and ROUTER_HANDOVER.
  static Result<std::unique_ptr<Channel>> Bind(WireContext& ctx, Kind kind,
                                               const std::string& endpoint,
                                               const ChannelOptions& options);
  static Result<std::unique_ptr<Channel>> Connect(WireContext& ctx, Kind kind,
                                                  const std::string& endpoint,
                                                  const ChannelOptions& options);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // The endpoint actually bound (tcp://127.0.0.1:0 resolves to the real port).
  std::string endpoint() const;
  // Non-blocking receive: true and fills *out when a message was waiting, false otherwise.
  Result<bool> Recv(Envelope* out);
  // Blocking receive up to `timeout` (DEALER side of slot threads).
  Result<bool> RecvWait(Envelope* out, std::chrono::milliseconds timeout);
  // Non-blocking send. ROUTER: `peer` names the receiver; Unavailable when it is gone or full.
  Status Send(std::string_view peer, std::string_view frame);
  Status Send(std::string_view frame) { return Send({}, frame); }
  // ROUTER with watch_disconnects: the routing ids whose connection closed since the last call,
  // each once. A peer is known by the connection its latest message came on, so one that has
  // already reconnected (a new connection) is not reported, nor is a connection that never
  // delivered a message. Empty for other channels.
  Result<std::vector<std::string>> TakeDisconnected();

  struct Impl;
  Impl* impl() { return impl_.get(); }

 private:
  explicit Channel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Waits until one of `channels` is readable (or, watching disconnects, has a connection event)
// or `timeout` passes (an interrupting signal counts as a timeout). ready->at(i) tells which.
// Returns how many are ready.
Result<int> Poll(const std::vector<Channel*>& channels, std::chrono::milliseconds timeout,
                 std::vector<bool>* ready);
// The same, also waiting for a plain file descriptor `fd` to become readable (e.g. an eventfd
// that other threads of the process write); *fd_ready tells whether it is. The count returned
// is of channels only.
Result<int> Poll(const std::vector<Channel*>& channels, std::chrono::milliseconds timeout,
                 std::vector<bool>* ready, int fd, bool* fd_ready);

// A CURVE key pair in Z85 (40 characters each).
struct CurveKeyPair {
  std::string public_z85;
  std::string secret_z85;
};
Result<CurveKeyPair> GenerateCurveKeyPair();
// Derives the public key of a Z85 secret; InvalidArgument when it is not a valid key.
Result<std::string> CurvePublicFromSecret(const std::string& secret_z85);
// Reads a key file: the first non-empty line not starting with '#', trimmed, must be a 40-character
// Z85 key. Errors name the file, never its content.
Result<std::string> ReadCurveKeyFile(const std::string& path);
// The public keys of an authorized-keys directory: every *.pub file in it (not recursive).
Result<std::set<std::string>> LoadAuthorizedKeys(const std::string& dir);

// ZAP handler (RFC 27) for CURVE servers: answers the handshakes of every CURVE socket in one
// WireContext from an allow-list of client public keys. It runs its own thread on an inproc REP
// socket, so handshakes never wait for a busy event loop; SetAllowed may be called from any
// thread. Start it before binding the CURVE socket; destroy it before the WireContext.
class ZapHandler {
 public:
  static Result<std::unique_ptr<ZapHandler>> Start(WireContext& ctx, std::set<std::string> allowed,
                                                   Logger& log);
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;
  void SetAllowed(std::set<std::string> allowed);
  size_t allowed_count();
  int64_t refused() const { return refused_.load(); }

  struct Impl;

 private:
  explicit ZapHandler(Logger& log);
  void Serve();
  bool Allowed(const std::string& public_z85);
  Logger& log_;
  std::unique_ptr<Impl> impl_;
  std::mutex mu_;
  std::set<std::string> allowed_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> refused_{0};
};

}  // namespace codesweep
