// JobRuntime, SignalWatcher.
#include "worker/runtime.h"

#include <signal.h>

#include <cstdlib>
#include <future>

#include "jobs/llm/http.h"
#include "jobs/llm/provider_options.h"
#include "jobs/methods/client_factory.h"
#include "worker/fiber.h"
#include "worker/job_runner.h"

namespace codesweep {
namespace {

// One HTTP engine and one price table for the whole process; 429s come back to the metered
// client (and so to the coordinator) instead of being retried here.
Result<ProviderEnv> SharedProviderEnv(ProviderEnv env, const std::string& data_dir, Logger& log) {
  if (!env.http) {
    CS_ASSIGN_OR_RETURN(env.http, MakeHttpEngine());
  }
  // Slots are fibers: waiting for an answer or a back-off parks the fiber, not its carrier.
  env.http = FiberAwareHttp(std::move(env.http));
  if (!env.sleep) env.sleep = FiberSleepFor;
  if (!env.prices) {
    const std::string dir = env.data_dir.empty() ? data_dir : env.data_dir;
    Result<PriceTable> prices = PriceTable::Load(dir + "/prices.json");
    if (prices.ok()) {
      env.prices = std::make_shared<const PriceTable>(std::move(*prices));
    } else {
      log.Warn("no price table: " + prices.status().ToString() + "; costs recorded as 0");
      env.prices = std::make_shared<const PriceTable>();
    }
  }
  env.rate_limit_by_caller = true;
  return env;
}

// The sandbox, built on a thread of its own: Run waits for it (its error if it failed).
class BackgroundSandbox final : public Executor {
 public:
  BackgroundSandbox(const SandboxOptions& options, Logger& log)
      : built_(std::async(std::launch::async, [options, &log] {
                 return MakeSandbox(options, log);
               }).share()) {}
  Status Ready() const { return built_.get().status(); }
  Result<ExecResult> Run(const ExecRequest& request) override {
    const Result<std::unique_ptr<Executor>>& e = built_.get();
    if (!e.ok()) return e.status();
    return (*e)->Run(request);
  }

 private:
  std::shared_future<Result<std::unique_ptr<Executor>>> built_;
};

}  // namespace

JobRuntime::~JobRuntime() { (void)Ready(); }  // the sandbox thread ends before what it uses

Status JobRuntime::Ready() {
  auto* background = dynamic_cast<BackgroundSandbox*>(executor_.get());
  return background != nullptr ? background->Ready() : Status::OK();
}

Result<std::unique_ptr<JobRuntime>> JobRuntime::Create(const RuntimeOptions& options, Logger& log) {
  std::unique_ptr<JobRuntime> rt(new JobRuntime());
  std::string data = options.data_dir.empty() ? DefaultDataDir() : options.data_dir;
  // Lazy: a task (and its dataset) is built when the sweep or the first job naming it needs it.
  rt->tasks_ = TaskRegistry::CreateLazy(data);
  if (options.sandbox_in_background) {
    rt->executor_ = std::make_unique<BackgroundSandbox>(options.sandbox, log);
  } else {
    CS_ASSIGN_OR_RETURN(rt->executor_, MakeSandbox(options.sandbox, log));
  }
  RealRunnerDeps deps;
  deps.tasks = rt->tasks_.get();
  deps.executor = rt->executor_.get();
  deps.clock = &rt->clock_;
  CS_ASSIGN_OR_RETURN(ProviderEnv env, SharedProviderEnv(options.env, data, log));
  deps.base_factory = MakeDefaultClientFactory(std::move(env));
  rt->runner_ = MakeRealRunner(std::move(deps));
  return rt;
}

ProviderEnv EnvironmentSecrets(Logger* log) {
  ProviderEnv env;
  env.logger = log;
  env.get_secret = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
  return env;
}

SignalWatcher::SignalWatcher(std::function<void(int)> on_signal, std::vector<int> signals)
    : handler_(std::move(on_signal)), wake_signal_(signals.empty() ? 0 : signals.front()) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : signals) sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  thread_ = std::thread([this, set] {
    timespec ts{0, 100'000'000};
    while (!done_.load()) {
      int sig = sigtimedwait(&set, nullptr, &ts);
      if (sig <= 0 || done_.load()) continue;  // after done_: the destructor's wake-up
      std::lock_guard<std::mutex> lock(mu_);
      if (handler_) handler_(sig);
    }
  });
}

void SignalWatcher::set_handler(std::function<void(int)> on_signal) {
  std::lock_guard<std::mutex> lock(mu_);
  handler_ = std::move(on_signal);
}

SignalWatcher::~SignalWatcher() {
  done_.store(true);
  // Wake the thread now rather than at its next 100 ms timeout: every process exit waited for
  // it, 50 ms on average (the peer benchmark times the coordinator until it exits). The signal
  // goes to that thread only, where it is blocked and waited for, and is not handled.
  if (wake_signal_ > 0) pthread_kill(thread_.native_handle(), wake_signal_);
  thread_.join();
}

}  // namespace codesweep
