// SignalWatcher: a watched signal reaches the handler on the watcher's thread; the destructor
// wakes that thread with one of the watched signals (so a process does not wait up to 100 ms
// for it at exit), and that wake-up never reaches the handler. Waits are deadlines, not sleeps.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "worker/runtime.h"

namespace codesweep {
namespace {

TEST(SignalWatcherTest, ItsOwnWakeUpAtTheEndNeverReachesTheHandler) {
  std::atomic<int> handled{0};
  for (int i = 0; i < 20; ++i) {
    SignalWatcher watcher([&](int) { ++handled; }, {SIGUSR1});
  }
  EXPECT_EQ(handled.load(), 0);
}

TEST(SignalWatcherTest, AWatchedSignalReachesTheHandler) {
  std::mutex mu;
  std::condition_variable cv;
  int got = 0;
  {
    SignalWatcher watcher(
        [&](int sig) {
          std::lock_guard<std::mutex> lock(mu);
          got = sig;
          cv.notify_all();
        },
        {SIGUSR2});
    ASSERT_EQ(kill(getpid(), SIGUSR2), 0);
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::seconds(30), [&] { return got != 0; });
  }
  EXPECT_EQ(got, SIGUSR2);
}

}  // namespace
}  // namespace codesweep
