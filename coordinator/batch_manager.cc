// BatchManager: parking, queues, flushes, polling and the end of provider batches.
#include "coordinator/batch_manager.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "jobs/llm/http.h"
#include "jobs/llm/wire_format.h"

namespace codesweep {
namespace {

constexpr int64_t kQueueCheckMs = 200;  // how often queues are looked at while nothing parks
constexpr int64_t kMinPollMs = 10;
constexpr int64_t kStepCheckMs = 10;  // how often the loop looks for a finished provider request

WireFormat FormatOf(const std::string& provider) {
  return provider == "anthropic" ? WireFormat::kAnthropic : WireFormat::kOpenAi;
}

int64_t PollMs(const ProviderOptions& o) {
  return std::max<int64_t>(kMinPollMs, static_cast<int64_t>(o.batch.poll_s * 1000));
}

// The error the cells of a batch the user cancelled end with.
std::string UserCancelError(const BatchRow& b) {
  return Str("batch ", b.id, b.provider_id.empty() ? "" : " (" + b.provider_id + ")",
             " cancelled by `codesweep batches cancel`; `codesweep retry` runs the cell again");
}

}  // namespace

// An HttpEngine whose blocking Send can be given up: after Stop(), every Send waiting now or
// later returns kUnavailable at once. The transfer itself goes on in the engine until it ends or
// the engine is destroyed; its answer is dropped. This is what lets the coordinator stop while a
// batch upload or download is in flight (a row left 'creating' is adopted by the next start).
class StoppableBatchHttp final : public HttpEngine {
 public:
  explicit StoppableBatchHttp(std::shared_ptr<HttpEngine> inner)
      : inner_(std::move(inner)), c_(std::make_shared<Control>()) {}

  Result<HttpResponse> Send(HttpRequest request) override {
    auto slot = std::make_shared<std::optional<Result<HttpResponse>>>();
    {
      std::lock_guard<std::mutex> lock(c_->mu);
      if (c_->stop) return Stopped();
    }
    inner_->SendAsync(std::move(request), [c = c_, slot](Result<HttpResponse> r) {
      std::lock_guard<std::mutex> lock(c->mu);
      *slot = std::move(r);
      c->cv.notify_all();
    });
    std::unique_lock<std::mutex> lock(c_->mu);
    c_->cv.wait(lock, [&] { return slot->has_value() || c_->stop; });
    if (!slot->has_value()) return Stopped();
    Result<HttpResponse> out = std::move(**slot);
    return out;
  }
  void SendAsync(HttpRequest request, Callback done) override {
    inner_->SendAsync(std::move(request), std::move(done));
  }
  int64_t in_flight() const override { return inner_->in_flight(); }
  void Stop() {
    std::lock_guard<std::mutex> lock(c_->mu);
    c_->stop = true;
    c_->cv.notify_all();
  }

 private:
  struct Control {
    std::mutex mu;
    std::condition_variable cv;
    bool stop = false;
  };
  static Status Stopped() { return Status::Unavailable("the coordinator is stopping"); }

  std::shared_ptr<HttpEngine> inner_;
  std::shared_ptr<Control> c_;
};

// One background thread that runs the provider requests of batch steps in the order they were
// posted; the loop takes the finished ones (TakeFinished) and writes what they brought back.
class BatchStepRunner {
 public:
  using Work = std::function<BatchStepDone()>;
  explicit BatchStepRunner(std::shared_ptr<StoppableBatchHttp> http) : http_(std::move(http)) {}
  ~BatchStepRunner() { Stop(); }

  void Post(int64_t id, Work work) {
    std::lock_guard<std::mutex> lock(mu_);
    todo_.emplace_back(id, std::move(work));
    if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
    cv_.notify_all();
  }
  std::vector<std::pair<int64_t, BatchStepDone>> TakeFinished() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(done_, {});
  }
  // True once a step has finished (and not been taken), false at `deadline`.
  bool WaitFinished(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_until(lock, deadline, [&] { return !done_.empty(); });
  }
  // Gives up the request in flight (its step's answer is dropped) and every step not begun.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      todo_.clear();
      cv_.notify_all();
    }
    http_->Stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || !todo_.empty(); });
      if (stop_) return;
      auto [id, work] = std::move(todo_.front());
      todo_.pop_front();
      lock.unlock();
      BatchStepDone done = work();
      work = nullptr;  // its captures (request lines, client) go before the lock is taken
      lock.lock();
      if (!stop_) done_.emplace_back(id, std::move(done));
      cv_.notify_all();
    }
  }

  std::shared_ptr<StoppableBatchHttp> http_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<int64_t, Work>> todo_;
  std::vector<std::pair<int64_t, BatchStepDone>> done_;
  bool stop_ = false;
  std::thread thread_;
};

BatchManager::BatchManager(Store& store, const Clock& clock, Logger& log,
                           BatchManagerOptions options)
    : store_(store), clock_(clock), log_(log), opt_(std::move(options)) {
  if (!opt_.prices_path.empty()) {
    Result<PriceTable> prices = PriceTable::Load(opt_.prices_path);
    if (prices.ok()) prices_ = std::move(*prices);
  }
}

BatchManager::~BatchManager() {
  if (runner_) runner_->Stop();
}

Status BatchManager::Stop(int64_t grace_ms) {
  if (!runner_) return Status::OK();
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  while (!steps_.empty() && runner_->WaitFinished(until)) {
    CS_RETURN_IF_ERROR(FinishSteps().status());
  }
  runner_->Stop();  // what still runs is given up: the next start adopts or polls it again
  steps_.clear();
  return Status::OK();
}

Status BatchManager::Start() {
  started_ = true;
  CS_ASSIGN_OR_RETURN(int64_t unparked, store_.UnparkAnswered());
  CS_ASSIGN_OR_RETURN(std::vector<BatchRow> live, store_.LiveBatches());
  if (!live.empty() || unparked > 0) {
    log_.Info(Str("batch mode: ", live.size(), " live batch(es) resume polling; ", unparked,
                  " parked cell(s) whose call has ended are pending again"));
  }
  CS_ASSIGN_OR_RETURN(std::vector<BatchQueueRow> queues, store_.BatchQueues());
  for (const BatchQueueRow& q : queues) queued_ += q.n;
  return Status::OK();
}

Result<const BatchManager::ModelInfo*> BatchManager::Model(int64_t variant_id) {
  auto it = models_.find(variant_id);
  if (it == models_.end()) {
    CS_ASSIGN_OR_RETURN(VariantRecord v, store_.GetVariant(variant_id));
    CS_ASSIGN_OR_RETURN(ProviderOptions o, ParseProviderOptions(v.model));
    it = models_.emplace(variant_id, ModelInfo{v.model, std::move(o)}).first;
  }
  return &it->second;
}

Result<BatchApiClient> BatchManager::Client(const std::string& provider,
                                            const std::string& base_url,
                                            const std::string& api_key_env,
                                            const ProviderOptions* options) {
  if (!http_) {
    CS_ASSIGN_OR_RETURN(std::shared_ptr<HttpEngine> engine, MakeHttpEngine());
    auto stoppable = std::make_shared<StoppableBatchHttp>(std::move(engine));
    runner_ = std::make_unique<BatchStepRunner>(stoppable);
    http_ = std::move(stoppable);
  }
  BatchTarget t;
  t.format = FormatOf(provider);
  t.base_url = base_url;
  t.timeout_ms = opt_.http_timeout_ms;
  if (options != nullptr) {
    t.headers = options->headers;
    t.anthropic_version = options->anthropic_version;
  }
  if (!api_key_env.empty()) {
    std::optional<std::string> key = opt_.get_secret ? opt_.get_secret(api_key_env) : std::nullopt;
    if (!key || key->empty()) {
      return Status::FailedPrecondition("batch mode: API key variable " + api_key_env +
                                        " is not set in the coordinator's environment");
    }
    t.api_key = *key;
  }
  return BatchApiClient(http_, std::move(t));
}

Result<GrantMsg> BatchManager::OnCall(const CallMsg& call) {
  GrantMsg g;
  g.call_key = call.call_key;
  CS_ASSIGN_OR_RETURN(std::optional<StoredCall> hit, store_.LookupCall(call.call_key));
  if (hit) {
    g.cached = true;
    g.response_json = std::move(hit->response_json);
    CS_ASSIGN_OR_RETURN(g.batch, store_.IsBatchAnswer(JobId(call.job), call.call_key));
    return g;
  }
  CS_ASSIGN_OR_RETURN(std::optional<BatchRequestRow> known, store_.GetBatchRequest(call.call_key));
  if (known && known->state == "failed") {
    g.error = known->error.empty() ? "the request failed in its batch" : known->error;
    g.error_http_status = known->http_status != 0 ? known->http_status : 500;
    return g;
  }
  if (!known) {
    BatchRequestRow r;
    r.call_key = call.call_key;
    r.provider = call.provider;
    r.model = call.model;
    r.key_alias = call.key_alias;
    r.body = call.batch_body;
    r.est_tokens = call.est_tokens;
    Result<JobRow> job = store_.GetJob(JobId(call.job));
    if (job.ok()) {
      r.sweep_id = job->sweep_id;
      r.variant_id = job->variant_id;
    }
    r.queued_ms = NowMs();
    CS_ASSIGN_OR_RETURN(bool added, store_.QueueBatchRequest(r));
    if (added) ++queued_;
  }
  g.park = true;  // queued, or sent in a live batch: never sent twice
  return g;
}

int64_t BatchManager::NextWakeMs(int64_t cap) const {
  if (!steps_.empty()) return std::min<int64_t>(cap, kStepCheckMs);
  if (queued_ > 0) return std::min<int64_t>(cap, kQueueCheckMs);
  return cap;
}

Result<int64_t> BatchManager::Tick(bool idle) {
  if (!started_) return int64_t{0};
  CS_ASSIGN_OR_RETURN(int64_t unparked, FinishSteps());
  const int64_t now = NowMs();
  CS_ASSIGN_OR_RETURN(std::vector<BatchRow> live, store_.LiveBatches());
  for (BatchRow& b : live) {
    if (steps_.count(b.id) > 0) continue;  // its provider request is still running
    if (b.state == "creating") {
      CS_RETURN_IF_ERROR(Adopt(b));
    } else if (b.next_poll_ms <= now) {
      CS_RETURN_IF_ERROR(Poll(b));
    }
  }
  if (queued_ == 0 && now < next_queue_check_ms_) return unparked;
  next_queue_check_ms_ = now + kQueueCheckMs;
  queued_ = 0;
  CS_ASSIGN_OR_RETURN(std::vector<BatchQueueRow> queues, store_.BatchQueues());
  for (const BatchQueueRow& q : queues) {
    Result<const ModelInfo*> info = Model(q.variant_id);
    if (!info.ok()) {
      log_.Warn("batch mode: no model options for queued requests of " + q.provider + ":" +
                q.model + ": " + info.status().ToString());
      continue;
    }
    const BatchOptions& bo = (*info)->options.batch;
    BucketId bucket{q.provider, q.model, q.key_alias};
    auto held = hold_until_ms_.find(bucket);
    if (held != hold_until_ms_.end() && held->second > now) continue;
    const bool due = q.n >= bo.max_requests || q.bytes >= bo.max_bytes ||
                     now - q.oldest_ms >= static_cast<int64_t>(bo.flush_s * 1000) || idle;
    if (!due) continue;
    CS_RETURN_IF_ERROR(Flush(q, **info));
  }
  return unparked;
}

Status BatchManager::Flush(const BatchQueueRow& q, const ModelInfo& info) {
  const BatchOptions& bo = info.options.batch;
  const BucketId bucket{q.provider, q.model, q.key_alias};
  const WireFormat format = FormatOf(q.provider);
  int64_t limit = bo.max_requests;
  if (auto s = split_.find(bucket); s != split_.end()) limit = std::min(limit, s->second);
  CS_ASSIGN_OR_RETURN(std::vector<BatchRequestRow> rows,
                      store_.QueuedBatchRequests(q.provider, q.model, q.key_alias, limit));
  if (rows.empty()) return Status::OK();
  // The provider's queue limit (max_enqueued_tokens): what the bucket's live batches hold counts
  // against it; this batch takes what is left, or waits for them to end.
  int64_t token_room = -1;  // -1: no limit
  if (bo.max_enqueued_tokens > 0) {
    CS_ASSIGN_OR_RETURN(int64_t enqueued, EnqueuedTokens(bucket));
    token_room = bo.max_enqueued_tokens - enqueued;
    const int64_t first = RequestTokens(format, rows.front());
    if (enqueued > 0 && first > token_room) {
      hold_until_ms_[bucket] = NowMs() + PollMs(info.options);
      log_.Debug(Str("batch queue of ", q.provider, ":", q.model, " waits: ", enqueued,
                     " tokens enqueued of ", bo.max_enqueued_tokens));
      return Status::OK();
    }
  }
  std::vector<BatchLine> lines;
  std::vector<std::string> keys;
  BatchRow b;
  b.provider = q.provider;
  b.model = q.model;
  b.key_alias = q.key_alias;
  b.base_url = info.options.base_url;
  b.api_key_env = info.options.api_key_env;
  b.sweep_id = rows.front().sweep_id;
  b.variant_id = q.variant_id;
  for (BatchRequestRow& r : rows) {
    BatchLine line{r.call_key, std::move(r.body)};
    const int64_t bytes = BatchApiClient::LineBytes(format, line);
    if (!lines.empty() && b.bytes + bytes > bo.max_bytes) break;
    const int64_t tokens = std::max<int64_t>(r.est_tokens, 1 + bytes / 4);
    if (!lines.empty() && token_room >= 0 && b.est_tokens + tokens > token_room) break;
    b.bytes += bytes;
    b.est_tokens += tokens;
    keys.push_back(line.custom_id);
    lines.push_back(std::move(line));
  }
  b.created_ms = NowMs();
  // The batch and its requests (state sent) are durable before the provider hears of them: a
  // crash from here on finds the row in state creating (Adopt).
  CS_ASSIGN_OR_RETURN(b.id, store_.CreateBatch(b, keys));
  CS_RETURN_IF_ERROR(store_.Commit());
  const std::string tag = Str("codesweep-", b.id, "-", b.created_ms);
  HttpStep step;
  step.kind = HttpStep::Kind::kCreate;
  step.batch = b;
  step.bucket = bucket;
  step.keys = std::move(keys);
  step.poll_ms = PollMs(info.options);
  Result<BatchApiClient> client = Client(b.provider, b.base_url, b.api_key_env, &info.options);
  if (!client.ok()) {
    HttpStep::Done done;
    done.info = client.status();
    return Created(step, done);
  }
  // The upload and create run off the loop; Created() commits the provider id once they end.
  Post(std::move(step), [c = std::move(*client), lines = std::move(lines), tag]() mutable {
    HttpStep::Done d;
    d.info = c.Create(std::move(lines), tag);
    return d;
  });
  return Status::OK();
}

void BatchManager::Post(HttpStep step, std::function<BatchStepDone()> work) {
  const int64_t id = step.batch.id;
  steps_.emplace(id, std::move(step));
  runner_->Post(id, std::move(work));
}

Result<int64_t> BatchManager::FinishSteps() {
  int64_t unparked = 0;
  if (!runner_) return unparked;
  for (auto& [id, done] : runner_->TakeFinished()) {
    auto it = steps_.find(id);
    if (it == steps_.end()) continue;
    HttpStep step = std::move(it->second);
    steps_.erase(it);
    switch (step.kind) {
      case HttpStep::Kind::kCreate:
        CS_RETURN_IF_ERROR(Created(step, done));
        break;
      case HttpStep::Kind::kAdopt:
        CS_RETURN_IF_ERROR(Adopted(step, done));
        break;
      case HttpStep::Kind::kPoll: {
        CS_ASSIGN_OR_RETURN(int64_t n, Polled(step, done));
        unparked += n;
        break;
      }
    }
  }
  return unparked;
}

Status BatchManager::Created(HttpStep& step, HttpStep::Done& done) {
  BatchRow& b = step.batch;
  const std::vector<std::string>& keys = step.keys;
  const BucketId& bucket = step.bucket;
  const BatchRow& q = b;  // provider and model, for the log lines
  Result<BatchInfo>& made = done.info;
  const int64_t now = NowMs();
  if (made.ok() && made->state != "failed") {
    b.provider_id = made->id;
    b.state = "in_progress";
    b.next_poll_ms = now + step.poll_ms;
    CS_RETURN_IF_ERROR(store_.UpdateBatch(b));
    CS_RETURN_IF_ERROR(store_.Commit());  // the provider id is durable: the upload is done
    log_.Info(Str("batch ", b.id, " (", made->id, ") of ", q.provider, ":", q.model, ": ",
                  keys.size(), " requests, ", b.bytes, " bytes"));
    return Status::OK();
  }
  // Refused or not made: nothing is lost, the requests wait in the queue again.
  const Status why = made.ok() ? Status::InvalidArgument("batch failed validation: " + made->error)
                               : made.status();
  b.state = "refused";
  b.provider_id = made.ok() ? made->id : "";
  b.error = why.message();
  b.ended_ms = now;
  CS_RETURN_IF_ERROR(store_.UpdateBatch(b));
  const std::string& m = why.message();
  const bool quota =
      m.find("token_limit") != std::string::npos || m.find("HTTP 429") != std::string::npos;
  const bool size = why.code() == StatusCode::kResourceExhausted && !quota;
  if (size && keys.size() == 1) {
    // One request too large for any batch: it fails as that HTTP error would (413).
    BatchAnswer a;
    a.call_key = keys.front();
    a.http_status = 413;
    a.error = m;
    CS_RETURN_IF_ERROR(store_.EndBatch(b.id, {a}, now).status());
    log_.Warn(Str("batch request ", a.call_key, " is too large for any batch: ", m));
    return store_.Commit();
  }
  CS_RETURN_IF_ERROR(store_.RequeueBatchRequests(b.id).status());
  // One row for a run of refusals (a queue limit or an unreachable provider refuses every
  // batch_poll_s, for hours perhaps): the table does not grow with each try.
  CS_RETURN_IF_ERROR(store_.FoldRefusedBatch(b).status());
  if (size) {
    split_[bucket] = std::max<int64_t>(1, static_cast<int64_t>(keys.size()) / 2);
    log_.Warn(Str("batch ", b.id, " refused for size (", m, "): split, at most ", split_[bucket],
                  " requests per batch of ", q.provider, ":", q.model));
  } else {
    hold_until_ms_[bucket] = now + step.poll_ms;
    log_.Warn(Str("batch ", b.id, " of ", q.provider, ":", q.model, " not made (", m,
                  "); its requests wait and are sent again"));
  }
  queued_ += 1;
  return store_.Commit();
}

// A request's tokens as the queue limit counts them: the worker's estimate, and at least a token
// per 4 bytes of its request line (prompt, options and framing: never less than the prompt).
int64_t BatchManager::RequestTokens(WireFormat format, const BatchRequestRow& r) {
  const int64_t bytes = BatchApiClient::LineBytes(format, BatchLine{r.call_key, r.body});
  return std::max<int64_t>(r.est_tokens, 1 + bytes / 4);
}

Result<int64_t> BatchManager::EnqueuedTokens(const BucketId& bucket) {
  CS_ASSIGN_OR_RETURN(std::vector<BatchRow> live, store_.LiveBatches());
  int64_t total = 0;
  for (const BatchRow& b : live) {
    if (BucketId{b.provider, b.model, b.key_alias} == bucket) total += b.est_tokens;
  }
  return total;
}

Status BatchManager::Adopt(BatchRow& b) {
  const std::string tag = Str("codesweep-", b.id, "-", b.created_ms);
  const ModelInfo* info = nullptr;
  if (Result<const ModelInfo*> m = Model(b.variant_id); m.ok()) info = *m;
  CS_ASSIGN_OR_RETURN(BatchApiClient client, Client(b.provider, b.base_url, b.api_key_env,
                                                    info != nullptr ? &info->options : nullptr));
  HttpStep step;
  step.kind = HttpStep::Kind::kAdopt;
  step.batch = b;
  Post(std::move(step), [c = std::move(client), tag]() mutable {
    HttpStep::Done d;
    d.found = c.FindByTag(tag);
    return d;
  });
  return Status::OK();
}

Status BatchManager::Adopted(HttpStep& step, HttpStep::Done& done) {
  BatchRow& b = step.batch;
  const std::string tag = Str("codesweep-", b.id, "-", b.created_ms);
  Result<std::optional<BatchInfo>>& found = done.found;
  if (!found.ok()) {
    log_.Warn("batch mode: cannot list batches to find batch " + tag + ": " +
              found.status().ToString());
    return Status::OK();  // asked again on the next tick
  }
  if (found->has_value()) {
    b.provider_id = (*found)->id;
    b.state = "in_progress";
    b.next_poll_ms = NowMs();
    log_.Info(Str("batch ", b.id, ": created before the restart as ", b.provider_id));
  } else if (b.cancel_requested_ms > 0) {  // never made, and the user cancelled it
    b.state = "cancelled";
    b.error = "not created (the coordinator stopped while creating it); cancelled by the user";
    b.ended_ms = NowMs();
    int64_t failed = 0;
    CS_RETURN_IF_ERROR(
        store_.EndBatch(b.id, {}, b.ended_ms, true, UserCancelError(b), &failed).status());
    cancelled_cells_ += failed;
  } else {
    b.state = "refused";
    b.error = "not created (the coordinator stopped while creating it)";
    b.ended_ms = NowMs();
    CS_RETURN_IF_ERROR(store_.RequeueBatchRequests(b.id).status());
  }
  CS_RETURN_IF_ERROR(store_.UpdateBatch(b));
  return store_.Commit();
}

Status BatchManager::Poll(BatchRow& b) {
  const ModelInfo* info = nullptr;
  if (Result<const ModelInfo*> m = Model(b.variant_id); m.ok()) info = *m;
  CS_ASSIGN_OR_RETURN(BatchApiClient client, Client(b.provider, b.base_url, b.api_key_env,
                                                    info != nullptr ? &info->options : nullptr));
  // The user cancelled it (`codesweep batches cancel`): ask again in case that process did not
  // reach the provider. Once per batch and coordinator run.
  const bool cancel = b.cancel_requested_ms > 0 && !cancel_sent_[b.id];
  if (cancel) cancel_sent_[b.id] = true;
  HttpStep step;
  step.kind = HttpStep::Kind::kPoll;
  step.batch = b;
  step.poll_ms = info != nullptr ? PollMs(info->options) : 30'000;
  Post(std::move(step), [c = std::move(client), id = b.provider_id, cancel]() mutable {
    HttpStep::Done d;
    d.info = c.Get(id);
    if (d.info.ok() && d.info->live() && cancel) d.cancel = c.Cancel(id).status();
    if (d.info.ok() && !d.info->live() && d.info->state != "failed") d.items = c.Results(*d.info);
    return d;
  });
  return Status::OK();
}

Result<int64_t> BatchManager::Polled(HttpStep& step, HttpStep::Done& done) {
  BatchRow& b = step.batch;
  const int64_t poll = step.poll_ms;
  // A cancel the user asked for while the step ran counts (the row is read again).
  CS_ASSIGN_OR_RETURN(std::vector<BatchRow> live, store_.LiveBatches());
  bool still_live = false;
  for (const BatchRow& now : live) {
    if (now.id != b.id) continue;
    still_live = true;
    b.cancel_requested_ms = now.cancel_requested_ms;
  }
  if (!still_live) return int64_t{0};
  Result<BatchInfo>& got = done.info;
  if (!got.ok()) {
    if (HttpStatusOf(got.status()) == 404) {  // the provider no longer knows it
      b.state = "failed";
      b.error = got.status().message();
      b.ended_ms = NowMs();
      CS_RETURN_IF_ERROR(store_.RequeueBatchRequests(b.id).status());
      CS_RETURN_IF_ERROR(store_.UpdateBatch(b));
      CS_RETURN_IF_ERROR(store_.Commit());
      return int64_t{0};
    }
    log_.Warn(
        Str("batch ", b.id, " (", b.provider_id, "): poll failed: ", got.status().ToString()));
    b.next_poll_ms = NowMs() + poll;
    CS_RETURN_IF_ERROR(store_.UpdateBatch(b));
    return int64_t{0};
  }
  b.n_done = got->done;
  b.n_failed = got->failed;
  if (!done.cancel.ok()) {
    log_.Warn(Str("batch ", b.id, " (", b.provider_id, "): cancel: ", done.cancel.ToString()));
  }
  if (got->live()) {
    b.next_poll_ms = NowMs() + poll;
    CS_RETURN_IF_ERROR(store_.UpdateBatch(b));
    return int64_t{0};
  }
  return Collect(b, *got, std::move(done.items));
}

Result<int64_t> BatchManager::Collect(BatchRow& b, const BatchInfo& info,
                                      Result<std::vector<BatchItem>> items) {
  const int64_t now = NowMs();
  {  // a cancel the user asked for since the batch was read counts (`codesweep batches cancel`)
    CS_ASSIGN_OR_RETURN(std::vector<BatchRow> live, store_.LiveBatches());
    for (const BatchRow& row : live) {
      if (row.id == b.id) b.cancel_requested_ms = row.cancel_requested_ms;
    }
  }
  if (info.state == "failed") {
    b.state = "failed";
    b.error = info.error;
    b.ended_ms = now;
    CS_RETURN_IF_ERROR(store_.RequeueBatchRequests(b.id).status());
    CS_RETURN_IF_ERROR(store_.UpdateBatch(b));
    CS_RETURN_IF_ERROR(store_.Commit());
    return int64_t{0};
  }
  if (!items.ok()) {  // read again on the next poll; nothing was written
    log_.Warn(Str("batch ", b.id, " (", b.provider_id,
                  "): reading results failed: ", items.status().ToString()));
    b.next_poll_ms = now + 1'000;
    CS_RETURN_IF_ERROR(store_.UpdateBatch(b));
    return int64_t{0};
  }
  const ModelInfo* model = nullptr;
  if (Result<const ModelInfo*> m = Model(b.variant_id); m.ok()) model = *m;
  std::optional<Price> price;
  if (model != nullptr && model->options.price) {
    price = model->options.price;
  } else if (prices_) {
    price = prices_->Find(b.provider + ":" + b.model);
  }
  const WireFormat format = FormatOf(b.provider);
  const bool user_cancelled = b.cancel_requested_ms > 0;
  const std::string cancel_error = UserCancelError(b);
  std::vector<BatchAnswer> answers;
  double cost = 0, sync_cost = 0;
  for (BatchItem& item : *items) {
    BatchAnswer a;
    a.call_key = item.custom_id;
    CS_ASSIGN_OR_RETURN(std::optional<BatchRequestRow> req, store_.GetBatchRequest(a.call_key));
    if (!req || req->batch_id != b.id) continue;  // not one of ours
    const bool tries_left = req->tries < opt_.max_tries;
    if (item.ok) {
      Result<LlmResponse> resp = ParseResponseBody(format, item.body);
      std::string().swap(item.body);  // the answers are about once in memory, not twice
      if (resp.ok()) {
        resp->batch = true;
        resp->http_status = 200;
        resp->attempts = 1;
        resp->cost_usd = price ? BatchCostUsd(*price, resp->usage) : 0.0;
        cost += resp->cost_usd;
        sync_cost += price ? CostUsd(*price, resp->usage) : 0.0;
        a.ok = true;
        a.http_status = 200;
        a.cost_usd = resp->cost_usd;
        a.call = StoredCall{a.call_key,
                            b.provider,
                            b.model,
                            ResponseToJson(*resp),
                            resp->usage.input_tokens,
                            resp->usage.output_tokens,
                            now};
      } else {
        a.http_status = 500;
        a.error = "malformed response in batch: " + resp.status().message();
        a.resend = tries_left;
      }
    } else if (item.unfinished) {
      a.resend = true;  // expired or cancelled before it was answered
    } else {
      a.http_status = item.http_status != 0 ? item.http_status : 500;
      a.error = item.error;
      const AttemptClass cls = ClassifyHttpStatus(a.http_status);
      a.resend = cls != AttemptClass::kPermanent && tries_left;
    }
    if (user_cancelled && !a.ok && a.resend) {  // not sent again: the user cancelled it
      a.resend = false;
      a.user_cancelled = true;
      a.error = cancel_error;
    }
    answers.push_back(std::move(a));
  }
  int64_t failed = 0;
  CS_ASSIGN_OR_RETURN(int64_t unparked,
                      store_.EndBatch(b.id, answers, now, user_cancelled, cancel_error, &failed));
  cancelled_cells_ += failed;
  b.state = info.state;
  b.n_done = info.done;
  b.n_failed = info.failed;
  b.cost_usd = cost;
  b.sync_cost_usd = sync_cost;
  b.ended_ms = now;
  CS_RETURN_IF_ERROR(store_.UpdateBatch(b));
  CS_RETURN_IF_ERROR(store_.Commit());
  log_.Info(Str("batch ", b.id, " (", b.provider_id, ") ", info.state, ": ", info.done,
                " answered, ", info.failed, " failed; ", unparked, " cell(s) runnable again",
                user_cancelled ? Str("; cancelled by the user: ", failed, " cell(s) failed") : ""));
  queued_ += 1;  // resent requests may wait in the queue now
  return unparked;
}

Result<std::vector<BatchCancel>> BatchManager::CancelLive(int64_t sweep_id) {
  CS_ASSIGN_OR_RETURN(std::vector<BatchRow> live, store_.RequestBatchCancel(sweep_id, NowMs()));
  CS_RETURN_IF_ERROR(store_.Commit());  // durable before the provider hears of it
  std::vector<BatchCancel> out;
  for (BatchRow& b : live) {
    BatchCancel c{std::move(b), Status::OK()};
    if (!c.batch.provider_id.empty()) {
      const ModelInfo* info = nullptr;
      if (Result<const ModelInfo*> m = Model(c.batch.variant_id); m.ok()) info = *m;
      Result<BatchApiClient> client =
          Client(c.batch.provider, c.batch.base_url, c.batch.api_key_env,
                 info != nullptr ? &info->options : nullptr);
      c.provider = client.ok() ? client->Cancel(c.batch.provider_id).status() : client.status();
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace codesweep
