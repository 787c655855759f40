// Channel::TakeDisconnected: a ROUTER watching its connections names the peer whose TCP
// connection closed, once, and not a peer that has moved to a newer connection. Real sockets on
// 127.0.0.1; waits poll against a deadline.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "transport/wire.h"

namespace codesweep {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

std::unique_ptr<Channel> Router(WireContext& ctx) {
  ChannelOptions o;
  o.watch_disconnects = true;
  return std::move(Channel::Bind(ctx, Channel::Kind::kRouter, "tcp://127.0.0.1:0", o).value());
}

std::unique_ptr<Channel> Dealer(WireContext& ctx, const Channel& router, const std::string& id) {
  ChannelOptions o;
  o.identity = id;
  o.linger_ms = 0;
  return std::move(Channel::Connect(ctx, Channel::Kind::kDealer, router.endpoint(), o).value());
}

// Receives one frame at the router (up to 10 s); returns its peer, "" on timeout.
std::string RecvPeer(Channel& router) {
  Envelope env;
  auto deadline = steady_clock::now() + std::chrono::seconds(10);
  while (steady_clock::now() < deadline) {
    if (router.RecvWait(&env, milliseconds(50)).value()) return env.peer;
  }
  return "";
}

// Disconnected peers reported within 10 s (stops at the first non-empty answer).
std::vector<std::string> WaitDisconnected(Channel& router) {
  std::vector<bool> ready;
  auto deadline = steady_clock::now() + std::chrono::seconds(10);
  while (steady_clock::now() < deadline) {
    (void)Poll({&router}, milliseconds(50), &ready).value();
    std::vector<std::string> gone = router.TakeDisconnected().value();
    if (!gone.empty()) return gone;
  }
  return {};
}

TEST(WireMonitorTest, ClosedConnectionNamesItsPeerOnce) {
  WireContext ctx;
  auto router = Router(ctx);
  auto dealer = Dealer(ctx, *router, "w1");
  ASSERT_TRUE(dealer->Send("hello").ok());
  ASSERT_EQ(RecvPeer(*router), "w1");
  EXPECT_TRUE(router->TakeDisconnected().value().empty());
  dealer.reset();  // the connection closes, as when the process dies
  EXPECT_EQ(WaitDisconnected(*router), std::vector<std::string>{"w1"});
  EXPECT_TRUE(router->TakeDisconnected().value().empty());
}

TEST(WireMonitorTest, PeerOnANewerConnectionIsNotReported) {
  WireContext ctx;
  auto router = Router(ctx);
  auto first = Dealer(ctx, *router, "w1");
  ASSERT_TRUE(first->Send("a").ok());
  ASSERT_EQ(RecvPeer(*router), "w1");
  auto second = Dealer(ctx, *router, "w1");  // the same worker again (ROUTER_HANDOVER)
  ASSERT_TRUE(second->Send("b").ok());
  ASSERT_EQ(RecvPeer(*router), "w1");
  first.reset();
  auto other = Dealer(ctx, *router, "w2");  // a marker: its disconnect comes after first's
  ASSERT_TRUE(other->Send("c").ok());
  ASSERT_EQ(RecvPeer(*router), "w2");
  other.reset();
  EXPECT_EQ(WaitDisconnected(*router), std::vector<std::string>{"w2"});
  second.reset();
  EXPECT_EQ(WaitDisconnected(*router), std::vector<std::string>{"w1"});
}

TEST(WireMonitorTest, ConnectionWithoutMessagesIsNotReported) {
  WireContext ctx;
  auto router = Router(ctx);
  auto silent = Dealer(ctx, *router, "quiet");
  auto talker = Dealer(ctx, *router, "w2");
  ASSERT_TRUE(talker->Send("x").ok());
  ASSERT_EQ(RecvPeer(*router), "w2");
  silent.reset();
  talker.reset();
  EXPECT_EQ(WaitDisconnected(*router), std::vector<std::string>{"w2"});
}

TEST(WireMonitorTest, UnwatchedChannelsReportNothing) {
  WireContext ctx;
  auto router =
      std::move(Channel::Bind(ctx, Channel::Kind::kRouter, "tcp://127.0.0.1:0", {}).value());
  EXPECT_TRUE(router->TakeDisconnected().value().empty());
}

}  // namespace
}  // namespace codesweep
