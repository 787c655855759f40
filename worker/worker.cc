// The worker loop and its slots (fibers on a few carrier threads).
#include "worker/worker.h"

#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "base/hash.h"
#include "base/trace.h"
#include "schema/codec.h"
#include "worker/fiber.h"

namespace codesweep {
namespace {

// Credit given and not yet used, at most (see TopUpCredit).
constexpr int kCreditBatch = 1'024;

int64_t MsBetween(SteadyTime a, SteadyTime b) {
  return std::chrono::duration_cast<Millis>(b - a).count();
}

}  // namespace

// Named, not anonymous: Worker::Loop (declared in worker.h) holds these, and a unity build would
// otherwise warn that it has fields whose types use the anonymous namespace.
namespace worker_internal {

// Frames from the loop to one slot (JOB, GRANT, BYE). A slot waits in Take() without a timeout
// (its fiber parked, its carrier free for other slots): BYE is always delivered when the loop
// stops.
class SlotBox {
 public:
  void Put(std::string frame) {
    std::lock_guard<std::mutex> lock(mu_);
    frames_.push_back(std::move(frame));
    signal_.Notify();
  }
  std::string Take() {
    std::unique_lock<std::mutex> lock(mu_);
    signal_.Wait(lock, [this] { return !frames_.empty(); });
    std::string frame = std::move(frames_.front());
    frames_.pop_front();
    return frame;
  }

 private:
  std::mutex mu_;
  FiberSignal signal_;
  std::deque<std::string> frames_;
};

// Frames from every slot to the loop (CREDIT "I am here", CALL, CALL_RESULT, RESULT). The
// loop polls fd() beside the coordinator channel; it is written only when the inbox turns
// non-empty, so a burst of frames costs one wake-up.
class LoopInbox {
 public:
  LoopInbox() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~LoopInbox() {
    if (fd_ >= 0) close(fd_);
  }
  LoopInbox(const LoopInbox&) = delete;
  LoopInbox& operator=(const LoopInbox&) = delete;
  int fd() const { return fd_; }

  void Put(int slot, std::string frame) {
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      wake = frames_.empty();
      frames_.emplace_back(slot, std::move(frame));
    }
    if (!wake) return;
    const uint64_t one = 1;
    while (write(fd_, &one, sizeof(one)) < 0 && errno == EINTR) {
    }
  }
  // Everything queued so far, oldest first. Clears the wake-up before taking, so a frame put
  // after the take wakes the next poll.
  void TakeAll(std::vector<std::pair<int, std::string>>* out) {
    uint64_t count = 0;
    while (read(fd_, &count, sizeof(count)) < 0 && errno == EINTR) {
    }
    out->clear();
    std::lock_guard<std::mutex> lock(mu_);
    out->swap(frames_);
  }

 private:
  int fd_;
  std::mutex mu_;
  std::vector<std::pair<int, std::string>> frames_;
};

}  // namespace worker_internal

using worker_internal::LoopInbox;
using worker_internal::SlotBox;

namespace {

// The per-slot gate: CALL goes to the loop's inbox; the GRANT comes back in the slot's box.
class SlotGate final : public CallGate {
 public:
  SlotGate(int slot, SlotBox& box, LoopInbox& inbox) : slot_(slot), box_(box), inbox_(inbox) {}
  void SetJob(int64_t job, int64_t lease) {
    job_ = job;
    lease_ = lease;
  }
  Result<GrantMsg> Acquire(CallMsg call) override {
    call.job = job_;
    call.lease = lease_;
    inbox_.Put(slot_, Encode(call));
    while (true) {
      Result<Message> m = Decode(box_.Take());
      if (!m.ok()) continue;
      if (std::holds_alternative<ByeMsg>(*m)) {
        stopping_ = true;
        return Status::Unavailable("worker stopping");
      }
      if (auto* g = std::get_if<GrantMsg>(&*m); g && g->call_key == call.call_key) return *g;
    }
  }
  void Report(CallResultMsg result) override {
    result.job = job_;
    result.lease = lease_;
    inbox_.Put(slot_, Encode(result));
  }
  bool stopping() const { return stopping_; }

 private:
  int slot_;
  SlotBox& box_;
  LoopInbox& inbox_;
  int64_t job_ = 0, lease_ = 0;
  bool stopping_ = false;
};

Outcome RunGuarded(const JobRunner& runner, const JobSpec& spec, CallGate& gate) {
  try {
    return runner(spec, gate);
  } catch (const std::exception& e) {
    Outcome o;
    o.failed = o.retryable = true;
    o.error = Str("runner threw: ", e.what());
    return o;
  } catch (...) {
    Outcome o;
    o.failed = o.retryable = true;
    o.error = "runner threw";
    return o;
  }
}

void SlotMain(int slot, SlotBox& box, LoopInbox& inbox, const JobRunner& runner,
              WorkerStats& stats) {
  SlotGate gate(slot, box, inbox);
  inbox.Put(slot, Encode(CreditMsg{1}));  // "I am here"
  while (!gate.stopping()) {
    Result<Message> m = Decode(box.Take());
    if (!m.ok()) continue;
    if (std::holds_alternative<ByeMsg>(*m)) return;
    auto* job = std::get_if<JobMsg>(&*m);
    if (!job) continue;
    ++stats.jobs_started;
    TraceEvent("job_start", job->spec.job.value(), job->lease);
    gate.SetJob(job->spec.job.value(), job->lease);
    Outcome outcome = RunGuarded(runner, job->spec, gate);
    inbox.Put(slot, Encode(ResultMsg{job->spec.job.value(), job->lease, job->attempt, outcome}));
  }
}

}  // namespace

// All loop-thread state; lives for one Run().
struct Worker::Loop {
  Worker& w;
  std::unique_ptr<Channel> coord;
  LoopInbox inbox;                              // slot threads -> loop
  std::vector<std::unique_ptr<SlotBox>> boxes;  // loop -> each slot
  std::unique_ptr<FiberPool> fibers;            // the slots
  std::vector<int> idle;                        // slots ready for a job
  std::map<int, LeaseRef> running;              // slot -> lease
  struct PendingCall {
    int slot = 0;
    std::string frame;  // the CALL, re-sent after a reconnect
  };
  // call key -> the slots waiting for its GRANT, oldest first (one GRANT answers one CALL).
  std::unordered_map<std::string, std::deque<PendingCall>> pending_calls;
  std::deque<JobMsg> queue;                 // received, not yet started
  std::map<LeaseRef, std::string> unacked;  // RESULT frames kept until ACK
  int capacity = 0;
  int outstanding = 0;  // credit given and not yet used
  bool welcomed = false;
  bool ever_welcomed = false;
  bool draining = false;
  int hb_ms, liveness;
  SteadyTime last_recv{}, last_send{}, reconnect_at{}, drain_deadline{};
  int64_t backoff_ms;
  Rng rng;

  explicit Loop(Worker& worker)
      : w(worker),
        hb_ms(worker.opt_.hb_ms),
        liveness(worker.opt_.liveness),
        backoff_ms(worker.opt_.reconnect_min_ms),
        rng(Sha256U64(worker.opt_.worker_id)) {}

  SteadyTime Now() const { return w.clock_.Now(); }

  void SendCoord(const std::string& frame) {
    if (!coord) return;
    if (coord->Send(frame).ok()) last_send = Now();
  }
  void SendCoord(const Message& m) { SendCoord(Encode(m)); }

  std::vector<LeaseRef> Inflight() const {
    std::vector<LeaseRef> out;
    for (const auto& [slot, ref] : running) out.push_back(ref);
    for (const JobMsg& j : queue) out.push_back({j.spec.job.value(), j.lease});
    return out;
  }

  Status Connect() {
    ChannelOptions o;
    o.identity = w.opt_.worker_id;
    o.curve_server_key = w.opt_.curve_server_key;
    o.curve_public = w.opt_.curve_public;
    o.curve_secret = w.opt_.curve_secret;
    CS_ASSIGN_OR_RETURN(coord, Channel::Connect(w.ctx_, Channel::Kind::kDealer, w.opt_.connect, o));
    welcomed = false;
    last_recv = Now();
    SendHello();
    return Status::OK();
  }

  void SendHello() {
    HelloMsg h;
    h.worker_id = w.opt_.worker_id;
    h.host = w.opt_.host;
    h.pid = static_cast<int64_t>(getpid());
    h.slots = w.opt_.slots;
    h.labels = w.opt_.labels;
    h.inflight = Inflight();
    for (const auto& [ref, frame] : unacked) h.unacked.push_back(ref);
    welcomed = false;
    SendCoord(h);
  }

  void Disconnect() {
    coord.reset();
    welcomed = false;
    double jitter = 0.8 + 0.4 * rng.Unit();
    reconnect_at = Now() + Millis(static_cast<int64_t>(backoff_ms * jitter));
    // A CURVE handshake that fails is silent on this side: say what to check.
    std::string hint = !ever_welcomed && !w.opt_.curve_server_key.empty()
                           ? " (never welcomed: check --server-key and that this worker's public "
                             "key is in the coordinator's authorized keys)"
                           : "";
    w.log_.Warn(Str("coordinator silent; reconnecting in ", backoff_ms,
                    " ms worker=", w.opt_.worker_id, hint));
    backoff_ms = std::min(backoff_ms * 2, w.opt_.reconnect_max_ms);
    ++w.stats_.reconnects;
  }

  void OnWelcome(const WelcomeMsg& m) {
    welcomed = true;
    ever_welcomed = true;
    hb_ms = std::max(m.hb_ms, 10);
    liveness = std::max(m.liveness, 1);
    backoff_ms = w.opt_.reconnect_min_ms;
    outstanding = 0;
    for (const auto& [ref, frame] : unacked) SendCoord(frame);
    for (const auto& [key, waiting] : pending_calls) {
      for (const PendingCall& p : waiting) SendCoord(p.frame);
    }
  }

  void OnCoordFrame(const std::string& frame) {
    last_recv = Now();
    Result<Message> m = Decode(frame);
    if (!m.ok()) {
      w.log_.Warn(Str("bad frame from coordinator: ", m.status().ToString()));
      return;
    }
    if (auto* wel = std::get_if<WelcomeMsg>(&*m)) {
      OnWelcome(*wel);
    } else if (auto* job = std::get_if<JobMsg>(&*m)) {
      TraceEvent("job_recv", job->spec.job.value(), job->lease);
      outstanding = std::max(outstanding - 1, 0);
      if (!draining) queue.push_back(std::move(*job));
    } else if (auto* ack = std::get_if<AckMsg>(&*m)) {
      if (unacked.erase({ack->job, ack->lease})) ++w.stats_.results_acked;
    } else if (auto* cancel = std::get_if<CancelMsg>(&*m)) {
      std::erase_if(queue, [&](const JobMsg& j) {
        return j.spec.job.value() == cancel->job && j.lease == cancel->lease;
      });
    } else if (std::holds_alternative<ResetMsg>(*m)) {
      SendHello();
    } else if (auto* grant = std::get_if<GrantMsg>(&*m)) {
      OnGrant(grant->call_key, frame);
    }
  }

  // Hands a GRANT to the slot that has waited longest for it; a GRANT nobody waits for is dropped.
  void OnGrant(const std::string& call_key, const std::string& frame) {
    auto it = pending_calls.find(call_key);
    if (it == pending_calls.end()) return;
    boxes[it->second.front().slot]->Put(frame);
    it->second.pop_front();
    if (it->second.empty()) pending_calls.erase(it);
  }

  void OnSlotFrame(int slot, const std::string& frame) {
    Result<Message> m = Decode(frame);
    if (!m.ok()) return;
    if (std::holds_alternative<CreditMsg>(*m)) {
      idle.push_back(slot);  // slot thread started
    } else if (auto* r = std::get_if<ResultMsg>(&*m)) {
      running.erase(slot);
      idle.push_back(slot);
      unacked[{r->job, r->lease}] = frame;
      if (welcomed) SendCoord(frame);
    } else if (auto* call = std::get_if<CallMsg>(&*m)) {
      pending_calls[call->call_key].push_back({slot, frame});
      SendCoord(frame);
    } else if (std::holds_alternative<CallResultMsg>(*m)) {
      SendCoord(frame);
    }
  }

  void Assign() {
    while (!idle.empty() && !queue.empty()) {
      int slot = idle.back();
      idle.pop_back();
      JobMsg job = std::move(queue.front());
      queue.pop_front();
      running[slot] = {job.spec.job.value(), job.lease};
      boxes[slot]->Put(Encode(job));
    }
  }

  // Credit in flight is capped at kCreditBatch: the coordinator leases (one store write each)
  // every credit it holds in one turn, and 12,500 at once kept it from answering anything for
  // seconds, long enough for this worker to call it silent, reconnect and have all its leases
  // requeued and claimed again (issue 16). The rest follows as the JOBs arrive.
  void TopUpCredit() {
    if (!welcomed || draining) return;
    int want = capacity - static_cast<int>(running.size() + queue.size()) - outstanding;
    want = std::min(want, kCreditBatch - outstanding);
    if (want <= 0) return;
    outstanding += want;
    SendCoord(CreditMsg{want});
  }

  void Timers() {
    SteadyTime now = Now();
    if (!coord) {
      if (now >= reconnect_at) {
        Status s = Connect();
        if (!s.ok()) Disconnect();
      }
      return;
    }
    if (MsBetween(last_recv, now) > static_cast<int64_t>(hb_ms) * liveness) return Disconnect();
    if (MsBetween(last_send, now) >= hb_ms) {
      if (welcomed) {
        SendCoord(HeartbeatMsg{Inflight()});
      } else {
        SendHello();  // HELLO doubles as the heartbeat until WELCOME
      }
    }
  }

  Status Serve();
  void StartSlots();
  void StopSlots();
};

void Worker::Loop::StartSlots() {
  for (int i = 0; i < w.opt_.slots; ++i) boxes.push_back(std::make_unique<SlotBox>());
  fibers = std::make_unique<FiberPool>(std::min(w.opt_.slots, w.opt_.slot_threads));
  for (int i = 0; i < w.opt_.slots; ++i) {
    fibers->Spawn([this, i] { SlotMain(i, *boxes[i], inbox, w.runner_, w.stats_); });
  }
}

void Worker::Loop::StopSlots() {
  for (auto& box : boxes) box->Put(Encode(ByeMsg{}));
  fibers->Join();
  fibers.reset();
}

Status Worker::Loop::Serve() {
  std::vector<bool> ready;
  std::vector<std::pair<int, std::string>> from_slots;
  Envelope env;
  while (true) {
    if (w.stop_.load() && !draining) {
      draining = true;
      drain_deadline = Now() + Millis(w.opt_.drain_timeout_ms);
      queue.clear();  // handed back: the coordinator requeues them on BYE
      w.log_.Info(Str("draining worker=", w.opt_.worker_id, " running=", running.size()));
    }
    if (draining && ((running.empty() && unacked.empty()) || Now() >= drain_deadline)) break;
    std::vector<Channel*> chans;
    if (coord) chans.push_back(coord.get());
    bool inbox_ready = false;
    CS_ASSIGN_OR_RETURN(
        int n, Poll(chans, Millis(std::min(hb_ms / 2, 100)), &ready, inbox.fd(), &inbox_ready));
    if (inbox_ready) {
      inbox.TakeAll(&from_slots);
      for (const auto& [slot, frame] : from_slots) OnSlotFrame(slot, frame);
    }
    if (n > 0 && coord && !ready.empty() && ready[0]) {
      for (int i = 0; i < 4096 && coord; ++i) {
        CS_ASSIGN_OR_RETURN(bool got, coord->Recv(&env));
        if (!got) break;
        OnCoordFrame(env.frame);
      }
    }
    Assign();
    TopUpCredit();
    Timers();
  }
  SendCoord(ByeMsg{});
  return Status::OK();
}

Worker::Worker(WireContext& ctx, const Clock& clock, Logger& log, WorkerOptions options,
               JobRunner runner)
    : ctx_(ctx), clock_(clock), log_(log), opt_(std::move(options)), runner_(std::move(runner)) {
  if (opt_.host.empty()) {
    char host[256] = {0};
    gethostname(host, sizeof(host) - 1);
    opt_.host = host;
  }
  if (opt_.worker_id.empty()) {
    std::string seed = Str(opt_.host, getpid(), clock.WallMs(), static_cast<const void*>(this));
    opt_.worker_id = Str(opt_.host, "-", getpid(), "-", Sha256Hex(seed).substr(0, 6));
  }
  opt_.slots = std::max(opt_.slots, 1);
  if (opt_.prefetch < 0) opt_.prefetch = std::max(1, opt_.slots / 4);
  opt_.prefetch = std::min(opt_.prefetch, opt_.slots);  // the coordinator holds us to 2 x slots
}

Worker::~Worker() = default;

Status Worker::Run() {
  // Every call in flight holds a connection: raise the soft limit on open files to the hard one
  // (often 1,024 by default, against 10,000 slots).
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max &&
      files.rlim_cur < static_cast<rlim_t>(2 * opt_.slots + 256)) {
    files.rlim_cur = files.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &files) != 0) {
      log_.Warn(Str("cannot raise the open-file limit: ", std::strerror(errno)));
    }
  }
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 &&
      files.rlim_cur < static_cast<rlim_t>(opt_.slots + 64)) {
    log_.Warn(Str("open-file limit ", files.rlim_cur, " is below slots=", opt_.slots,
                  ": calls past it fail to connect (raise ulimit -n)"));
  }
  Loop loop(*this);
  loop.capacity = opt_.slots + opt_.prefetch;
  if (loop.inbox.fd() < 0) return Status::Internal(Str("eventfd: ", std::strerror(errno)));
  loop.StartSlots();
  Status s = loop.Connect();
  if (!s.ok()) loop.Disconnect();
  log_.Info(Str("worker started worker=", opt_.worker_id, " slots=", opt_.slots,
                " coordinator=", opt_.connect));
  s = loop.Serve();
  loop.StopSlots();
  log_.Info(Str("worker stopped worker=", opt_.worker_id, " jobs=", stats_.jobs_started.load()));
  return s;
}

}  // namespace codesweep
