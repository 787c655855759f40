// Slot fibers: many fibers share one carrier thread; a fiber that waits on a FiberSignal, sleeps
// or waits for an HTTP answer (FiberAwareHttp) hands the carrier to the others instead of
// blocking it. Waits are deadlines, never sleeps.
#include "worker/fiber.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

namespace codesweep {
namespace {

TEST(FiberTest, ThousandFibersOnOneCarrierPassATokenAround) {
  constexpr int kFibers = 1'000;
  struct Box {
    std::mutex mu;
    FiberSignal signal;
    int token = -1;
  };
  std::vector<Box> boxes(kFibers);
  std::atomic<int> finished{0};
  std::atomic<bool> on_fiber{true};
  {
    FiberPool pool(1);
    for (int i = 0; i < kFibers; ++i) {
      pool.Spawn([&, i] {
        if (!OnFiber()) on_fiber = false;
        {
          std::unique_lock<std::mutex> lock(boxes[i].mu);
          boxes[i].signal.Wait(lock, [&] { return boxes[i].token == i; });
        }
        if (i + 1 < kFibers) {
          std::lock_guard<std::mutex> lock(boxes[i + 1].mu);
          boxes[i + 1].token = i + 1;
          boxes[i + 1].signal.Notify();
        }
        ++finished;
      });
    }
    std::lock_guard<std::mutex> lock(boxes[0].mu);
    boxes[0].token = 0;  // from a plain thread
    boxes[0].signal.Notify();
  }  // Join
  EXPECT_EQ(finished.load(), kFibers);
  EXPECT_TRUE(on_fiber.load());
  EXPECT_FALSE(OnFiber());
}

TEST(FiberTest, ASleepingFiberLeavesItsCarrierToTheOthers) {
  std::mutex mu;
  std::vector<std::string> order;
  {
    FiberPool pool(1);
    pool.Spawn([&] {
      FiberSleepFor(Millis(300));
      std::lock_guard<std::mutex> lock(mu);
      order.push_back("sleeper");
    });
    pool.Spawn([&] {
      std::lock_guard<std::mutex> lock(mu);
      order.push_back("other");
    });
  }
  EXPECT_EQ(order, (std::vector<std::string>{"other", "sleeper"}));
}

// Answers requests only when the test says so.
class HeldEngine final : public HttpEngine {
 public:
  Result<HttpResponse> Send(HttpRequest) override { return Status::Internal("not used"); }
  void SendAsync(HttpRequest request, Callback done) override {
    std::lock_guard<std::mutex> lock(mu_);
    held_.emplace_back(std::move(request), std::move(done));
  }
  int64_t in_flight() const override { return 0; }
  size_t held() {
    std::lock_guard<std::mutex> lock(mu_);
    return held_.size();
  }
  void AnswerAll() {
    std::vector<std::pair<HttpRequest, Callback>> held;
    {
      std::lock_guard<std::mutex> lock(mu_);
      held.swap(held_);
    }
    for (auto& [request, done] : held) done(HttpResponse{200, {}, request.url});
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<HttpRequest, Callback>> held_;
};

TEST(FiberTest, FibersOnOneCarrierWaitForHttpAnswersTogether) {
  auto held = std::make_shared<HeldEngine>();
  std::shared_ptr<HttpEngine> http = FiberAwareHttp(held);
  constexpr int kCalls = 50;
  std::atomic<int> ok{0};
  {
    FiberPool pool(1);
    for (int i = 0; i < kCalls; ++i) {
      pool.Spawn([&, i] {
        HttpRequest r;
        r.url = "u" + std::to_string(i);
        Result<HttpResponse> resp = http->Send(r);
        if (resp.ok() && resp->body == r.url) ++ok;
      });
    }
    // All calls are out at once although they share one thread.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (held->held() < kCalls && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    EXPECT_EQ(held->held(), static_cast<size_t>(kCalls));
    while (ok.load() < kCalls && std::chrono::steady_clock::now() < deadline) held->AnswerAll();
  }
  EXPECT_EQ(ok.load(), kCalls);
}

}  // namespace
}  // namespace codesweep
