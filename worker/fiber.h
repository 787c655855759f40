// Slot fibers: stackful fibers (glibc ucontext) run by a few carrier threads, so a worker holds
// 10,000 slots without 10,000 threads (docs/design.md, "Slots"). Each fiber stays on the carrier
// it was given (no migration, so thread-locals and errno stay put). A fiber that waits (for a
// frame from the worker loop, for an HTTP answer, for a retry back-off) hands its carrier to the
// next ready fiber; anything else that blocks (a sandbox run) blocks its carrier and the fibers
// behind it. Outside a fiber, FiberSignal and FiberSleepFor block the calling thread as usual.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "base/clock.h"
#include "jobs/llm/http.h"

namespace codesweep {

struct Fiber;
class Carrier;

// True on a fiber of a FiberPool.
bool OnFiber();

// Sleeps the calling fiber (its carrier runs other fibers meanwhile), or the calling thread.
void FiberSleepFor(Millis d);

// A condition variable that a fiber waits on without blocking its carrier. Wait and Notify are
// called with the mutex that guards the predicate held.
class FiberSignal {
 public:
  template <class Pred>
  void Wait(std::unique_lock<std::mutex>& lock, Pred pred) {
    while (!pred()) WaitOnce(lock);
  }
  void Notify();  // wakes the waiter, if any (lock held)

 private:
  void WaitOnce(std::unique_lock<std::mutex>& lock);
  Fiber* waiter_ = nullptr;  // a parked fiber
  std::condition_variable cv_;
};

// Runs functions on fibers. Spawn all, then Join (waits until every function returned).
class FiberPool {
 public:
  // `carriers` threads; each fiber gets a stack of `stack_bytes` (address space, touched pages
  // resident) below a guard page.
  FiberPool(int carriers, size_t stack_bytes = 8 << 20);
  ~FiberPool();
  FiberPool(const FiberPool&) = delete;
  FiberPool& operator=(const FiberPool&) = delete;

  // Starts fn on a new fiber (carriers in turn). fn must not throw.
  void Spawn(std::function<void()> fn);
  // Waits until every spawned function has returned, then stops the carriers.
  void Join();

 private:
  std::vector<std::unique_ptr<Carrier>> carriers_;
  size_t next_ = 0;
  size_t stack_bytes_;
  bool joined_ = false;
};

// HttpEngine whose Send parks a calling fiber until the answer (SendAsync underneath) instead of
// blocking its carrier; from a plain thread it blocks as before.
std::shared_ptr<HttpEngine> FiberAwareHttp(std::shared_ptr<HttpEngine> inner);

}  // namespace codesweep
