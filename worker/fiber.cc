// FiberPool over glibc ucontext: makecontext/swapcontext between a carrier's scheduler and its
// fibers. A parked fiber is put back on its carrier's ready queue by whoever wakes it; only its
// own carrier pops it, and only after it has switched out (the carrier is running it until then),
// so a wake-up that comes before the switch is not lost.
#include "worker/fiber.h"

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <optional>
#include <queue>
#include <thread>
#include <utility>

#if defined(__SANITIZE_ADDRESS__)
#define CS_FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CS_FIBER_ASAN 1
#endif
#endif
#ifdef CS_FIBER_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace codesweep {

struct Fiber {
  Carrier* carrier = nullptr;
  std::function<void()> fn;
  ucontext_t ctx{};
  void* stack = nullptr;  // mapping, guard page first
  size_t stack_bytes = 0;
  bool queued = false;    // on the ready queue (carrier mutex)
  bool done = false;      // returned, seen by the carrier (carrier mutex)
  bool returned = false;  // fn returned (carrier thread only)
  ~Fiber() {
    if (stack != nullptr) munmap(stack, stack_bytes);
  }
};

namespace {

thread_local Carrier* tls_carrier = nullptr;
thread_local Fiber* tls_fiber = nullptr;

#ifdef CS_FIBER_ASAN
// ASan is told about every switch, so it checks the right stack.
void AsanStart(void** fake, const void* bottom, size_t size) {
  __sanitizer_start_switch_fiber(fake, bottom, size);
}
void AsanFinish(void* fake) { __sanitizer_finish_switch_fiber(fake, nullptr, nullptr); }
#else
void AsanStart(void**, const void*, size_t) {}
void AsanFinish(void*) {}
#endif

}  // namespace

class Carrier {
 public:
  Carrier() : thread_([this] { Run(); }) {}
  ~Carrier() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closing_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

  void Add(std::unique_ptr<Fiber> f) {
    std::lock_guard<std::mutex> lock(mu_);
    f->carrier = this;
    f->queued = true;
    ready_.push_back(f.get());
    fibers_.push_back(std::move(f));
    ++live_;
    cv_.notify_one();
  }

  void Resume(Fiber* f) {
    std::lock_guard<std::mutex> lock(mu_);
    if (f->queued || f->done) return;
    f->queued = true;
    ready_.push_back(f);
    cv_.notify_one();
  }

  // On the carrier's own thread, from a fiber: back to the scheduler until resumed.
  void Switch(Fiber* f) {
    void* fake = nullptr;
    AsanStart(&fake, sched_stack_bottom_, sched_stack_size_);
    swapcontext(&f->ctx, &sched_);
    AsanFinish(fake);
  }

  void SleepUntil(Fiber* f, SteadyTime at) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      sleepers_.push({at, f});
    }
    Switch(f);
  }

  void WaitIdle() {
    std::unique_lock<std::mutex> lock(mu_);
    idle_cv_.wait(lock, [this] { return live_ == 0; });
  }

 private:
  struct Sleeper {
    SteadyTime at;
    Fiber* f;
    bool operator>(const Sleeper& o) const { return at > o.at; }
  };

  static void Trampoline() {
    // First run on the new stack: finish the switch that brought us here.
    AsanFinish(nullptr);
    Fiber* f = tls_fiber;
    try {
      f->fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "fiber threw: %s\n", e.what());
      std::abort();
    }
    f->fn = nullptr;
    f->returned = true;
    // Returning switches to uc_link (the scheduler); the stack is not used again.
    AsanStart(nullptr, tls_carrier->sched_stack_bottom_, tls_carrier->sched_stack_size_);
  }

  void Run() {
    tls_carrier = this;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      pthread_attr_getstack(&attr, &sched_stack_bottom_, &sched_stack_size_);
      pthread_attr_destroy(&attr);
    }
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      const SteadyTime now = std::chrono::steady_clock::now();
      while (!sleepers_.empty() && sleepers_.top().at <= now) {
        Fiber* f = sleepers_.top().f;
        sleepers_.pop();
        if (!f->queued) {
          f->queued = true;
          ready_.push_back(f);
        }
      }
      if (ready_.empty()) {
        if (closing_ && live_ == 0) break;
        if (sleepers_.empty()) {
          cv_.wait(lock);
        } else {
          cv_.wait_until(lock, sleepers_.top().at);
        }
        continue;
      }
      Fiber* f = ready_.front();
      ready_.pop_front();
      f->queued = false;
      if (f->done) continue;  // a late wake-up of a fiber that has returned
      lock.unlock();
      if (f->stack == nullptr) Prepare(f);
      tls_fiber = f;
      void* fake = nullptr;
      AsanStart(&fake, static_cast<char*>(f->stack) + page_, f->stack_bytes - page_);
      swapcontext(&sched_, &f->ctx);
      AsanFinish(fake);
      tls_fiber = nullptr;
      lock.lock();
      if (f->returned && !f->done) {
        f->done = true;
        if (--live_ == 0) idle_cv_.notify_all();
      }
    }
  }

  // Maps the stack (guard page at the low end) and points the context at Trampoline.
  void Prepare(Fiber* f) {
    void* mem = mmap(nullptr, f->stack_bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (mem == MAP_FAILED) {
      std::perror("fiber stack mmap");
      std::abort();
    }
    mprotect(mem, page_, PROT_NONE);
    f->stack = mem;
    getcontext(&f->ctx);
    f->ctx.uc_stack.ss_sp = static_cast<char*>(mem) + page_;
    f->ctx.uc_stack.ss_size = f->stack_bytes - page_;
    f->ctx.uc_link = &sched_;
    makecontext(&f->ctx, &Carrier::Trampoline, 0);
  }

  const size_t page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<Fiber*> ready_;
  std::priority_queue<Sleeper, std::vector<Sleeper>, std::greater<Sleeper>> sleepers_;
  std::vector<std::unique_ptr<Fiber>> fibers_;
  int live_ = 0;
  bool closing_ = false;
  ucontext_t sched_{};
  void* sched_stack_bottom_ = nullptr;
  size_t sched_stack_size_ = 0;
  std::thread thread_;  // last: starts after the members above exist
};

bool OnFiber() { return tls_fiber != nullptr; }

void FiberSleepFor(Millis d) {
  if (tls_fiber == nullptr) {
    std::this_thread::sleep_for(d);
    return;
  }
  tls_carrier->SleepUntil(tls_fiber, std::chrono::steady_clock::now() + d);
}

void FiberSignal::WaitOnce(std::unique_lock<std::mutex>& lock) {
  Fiber* f = tls_fiber;
  if (f == nullptr) {
    cv_.wait(lock);
    return;
  }
  waiter_ = f;
  lock.unlock();
  f->carrier->Switch(f);
  lock.lock();
  if (waiter_ == f) waiter_ = nullptr;
}

void FiberSignal::Notify() {
  if (waiter_ != nullptr) {
    Fiber* f = std::exchange(waiter_, nullptr);
    f->carrier->Resume(f);
    return;
  }
  cv_.notify_one();
}

FiberPool::FiberPool(int carriers, size_t stack_bytes) : stack_bytes_(stack_bytes) {
  for (int i = 0; i < std::max(carriers, 1); ++i) carriers_.push_back(std::make_unique<Carrier>());
}

FiberPool::~FiberPool() { Join(); }

void FiberPool::Spawn(std::function<void()> fn) {
  auto f = std::make_unique<Fiber>();
  f->fn = std::move(fn);
  f->stack_bytes = stack_bytes_;
  carriers_[next_++ % carriers_.size()]->Add(std::move(f));
}

void FiberPool::Join() {
  if (joined_) return;
  joined_ = true;
  for (auto& c : carriers_) c->WaitIdle();
  carriers_.clear();  // stops and joins the carrier threads
}

namespace {

class FiberHttp final : public HttpEngine {
 public:
  explicit FiberHttp(std::shared_ptr<HttpEngine> inner) : inner_(std::move(inner)) {}
  Result<HttpResponse> Send(HttpRequest request) override {
    if (!OnFiber()) return inner_->Send(std::move(request));
    struct Wait {
      std::mutex mu;
      FiberSignal signal;
      std::optional<Result<HttpResponse>> result;
    };
    auto wait = std::make_shared<Wait>();
    inner_->SendAsync(std::move(request), [wait](Result<HttpResponse> r) {
      std::lock_guard<std::mutex> lock(wait->mu);
      wait->result = std::move(r);
      wait->signal.Notify();
    });
    std::unique_lock<std::mutex> lock(wait->mu);
    wait->signal.Wait(lock, [&] { return wait->result.has_value(); });
    return std::move(*wait->result);
  }
  void SendAsync(HttpRequest request, Callback done) override {
    inner_->SendAsync(std::move(request), std::move(done));
  }
  int64_t in_flight() const override { return inner_->in_flight(); }

 private:
  std::shared_ptr<HttpEngine> inner_;
};

}  // namespace

std::shared_ptr<HttpEngine> FiberAwareHttp(std::shared_ptr<HttpEngine> inner) {
  return std::make_shared<FiberHttp>(std::move(inner));
}

}  // namespace codesweep
