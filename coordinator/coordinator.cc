// The coordinator loop: poll, receive a batch, tick, dispatch, group-commit, send.
#include "coordinator/coordinator.h"

#include <algorithm>

#include "base/trace.h"
#include "schema/codec.h"

namespace codesweep {

namespace {
RateLimiter& PickLimiter(RateLimiter* given, std::unique_ptr<RateLimiter>& own) {
  if (given) return *given;
  own = std::make_unique<ImmediateRateLimiter>();
  return *own;
}
}  // namespace

Coordinator::Coordinator(Store& store, WireContext& ctx, const Clock& clock, Logger& log,
                         CoordinatorLoopOptions options, RateLimiter* limiter)
    : ctx_(ctx),
      clock_(clock),
      log_(log),
      opt_(std::move(options)),
      core_(store, clock, log, PickLimiter(limiter, own_limiter_), opt_.core) {
  core_.SetTasks(opt_.tasks);
}

Coordinator::~Coordinator() = default;

Result<CoordinatorListener> Coordinator::Listen(WireContext& ctx, const std::string& endpoint,
                                                const CoordinatorLoopOptions& options,
                                                Logger& log) {
  CoordinatorListener out;
  ChannelOptions o;
  o.watch_disconnects = true;
  if (!options.curve_secret.empty()) {
    // The ZAP handler must exist before the CURVE socket binds, or libzmq lets every key in.
    CS_ASSIGN_OR_RETURN(out.zap, ZapHandler::Start(ctx, options.authorized_keys, log));
    o.curve_secret = options.curve_secret;
  }
  CS_ASSIGN_OR_RETURN(out.router, Channel::Bind(ctx, Channel::Kind::kRouter, endpoint, o));
  return out;
}

Status Coordinator::Bind(const std::string& endpoint) {
  CS_ASSIGN_OR_RETURN(CoordinatorListener listener, Listen(ctx_, endpoint, opt_, log_));
  Adopt(std::move(listener));
  return Status::OK();
}

void Coordinator::Adopt(CoordinatorListener listener) {
  zap_ = std::move(listener.zap);
  router_ = std::move(listener.router);
  log_.Info(zap_ ? Str("CURVE on; ", zap_->allowed_count(), " authorized worker keys")
                 : std::string("CURVE off: plaintext connections"));
  log_.Info(Str("coordinator listening on ", router_->endpoint()));
}

void Coordinator::SetAuthorizedKeys(std::set<std::string> keys) {
  if (!zap_) return;
  size_t n = keys.size();
  zap_->SetAllowed(std::move(keys));
  log_.Info(Str("authorized worker keys reloaded: ", n));
}

std::string Coordinator::endpoint() const { return router_ ? router_->endpoint() : ""; }

void Coordinator::Flush() {
  for (Outgoing& out : core_.TakeOutbox()) {
    // A peer that is gone (ROUTER_MANDATORY) simply misses the message; it re-syncs on HELLO.
    (void)router_->Send(out.peer, Encode(out.msg));
    if (const auto* job = std::get_if<JobMsg>(&out.msg); job && DispatchTraceOn()) {
      TraceEvent("job_sent", job->spec.job.value(), job->lease);
    }
  }
}

Status Coordinator::Run() {
  if (!router_) return Status::FailedPrecondition("Coordinator::Run before Bind");
  CS_RETURN_IF_ERROR(core_.Start());
  SteadyTime last_progress = clock_.Now();
  std::vector<bool> ready;
  std::vector<std::string> closed;  // peers whose connection closed, handled on the next turn
  Envelope env;
  while (!stop_.load()) {
    // Every event that makes a job runnable (a frame, a closed connection, a back-off running
    // out: NextWakeMs) ends the wait; idle_fetch_ms only bounds how late a write by another
    // process to the store is noticed.
    int64_t wait_ms =
        closed.empty() ? std::min<int64_t>(core_.NextWakeMs(), opt_.core.idle_fetch_ms) : 0;
    CS_ASSIGN_OR_RETURN(int n, Poll({router_.get()}, Millis(wait_ms), &ready));
    for (int i = 0; (n > 0 || !closed.empty()) && i < opt_.max_frames_per_turn; ++i) {
      CS_ASSIGN_OR_RETURN(bool got, router_->Recv(&env));
      if (!got) break;
      core_.OnFrame(env.peer, env.frame);
    }
    // A closed connection is acted on one turn later, after a poll and a receive, so the frames
    // its peer sent before closing (a last RESULT) are taken first.
    for (const std::string& peer : closed) core_.OnDisconnected(peer);
    CS_ASSIGN_OR_RETURN(closed, router_->TakeDisconnected());
    // The jobs this turn's frames made runnable (a SUBMIT's cells, committed by now; credit
    // back from a result) go out first: not after the timers' work nor after the group commit's
    // fsync, which the leases need no more than before (a lease is fenced, not acknowledged).
    core_.Dispatch();
    Flush();
    core_.Tick();
    core_.Dispatch();
    core_.MaybeCommit(false);
    Flush();
    if (!core_.fatal().ok()) return core_.fatal();
    SteadyTime now = clock_.Now();
    if (opt_.on_progress && now - last_progress >= Millis(opt_.progress_interval_ms)) {
      last_progress = now;
      opt_.on_progress(core_.progress());
    }
    if (opt_.core.exit_when_done && core_.Finished()) break;
  }
  core_.Shutdown();
  core_.MaybeCommit(true);
  Flush();
  if (opt_.on_progress) opt_.on_progress(core_.progress());
  return core_.fatal();
}

}  // namespace codesweep
