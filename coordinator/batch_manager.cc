// BatchManager: parking, queues, flushes, polling and the end of provider batches.
#include "coordinator/batch_manager.h"

#include <algorithm>

#include "jobs/llm/http.h"
#include "jobs/llm/wire_format.h"

namespace codesweep {
namespace {

constexpr int64_t kQueueCheckMs = 200;  // how often queues are looked at while nothing parks
constexpr int64_t kMinPollMs = 10;

WireFormat FormatOf(const std::string& provider) {
  return provider == "anthropic" ? WireFormat::kAnthropic : WireFormat::kOpenAi;
}

int64_t PollMs(const ProviderOptions& o) {
  return std::max<int64_t>(kMinPollMs, static_cast<int64_t>(o.batch.poll_s * 1000));
}

}  // namespace

BatchManager::BatchManager(Store& store, const Clock& clock, Logger& log,
                           BatchManagerOptions options)
    : store_(store), clock_(clock), log_(log), opt_(std::move(options)) {
  if (!opt_.prices_path.empty()) {
    Result<PriceTable> prices = PriceTable::Load(opt_.prices_path);
    if (prices.ok()) prices_ = std::move(*prices);
  }
}

BatchManager::~BatchManager() = default;

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
    CS_ASSIGN_OR_RETURN(http_, MakeHttpEngine());
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
  if (queued_ > 0) return std::min<int64_t>(cap, kQueueCheckMs);
  return cap;
}

Result<int64_t> BatchManager::Tick(bool idle) {
  if (!started_) return int64_t{0};
  const int64_t now = NowMs();
  int64_t unparked = 0;
  CS_ASSIGN_OR_RETURN(std::vector<BatchRow> live, store_.LiveBatches());
  for (BatchRow& b : live) {
    if (b.state == "creating") {
      CS_RETURN_IF_ERROR(Adopt(b));
    } else if (b.next_poll_ms <= now) {
      CS_ASSIGN_OR_RETURN(int64_t n, Poll(b));
      unparked += n;
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
    b.bytes += bytes;
    b.est_tokens += r.est_tokens;
    keys.push_back(line.custom_id);
    lines.push_back(std::move(line));
  }
  b.created_ms = NowMs();
  // The batch and its requests (state sent) are durable before the provider hears of them: a
  // crash from here on finds the row in state creating (Adopt).
  CS_ASSIGN_OR_RETURN(b.id, store_.CreateBatch(b, keys));
  CS_RETURN_IF_ERROR(store_.Commit());
  const std::string tag = Str("codesweep-", b.id, "-", b.created_ms);
  Result<BatchApiClient> client = Client(b.provider, b.base_url, b.api_key_env, &info.options);
  Result<BatchInfo> made =
      client.ok() ? client->Create(lines, tag) : Result<BatchInfo>(client.status());
  const int64_t now = NowMs();
  if (made.ok() && made->state != "failed") {
    b.provider_id = made->id;
    b.state = "in_progress";
    b.next_poll_ms = now + PollMs(info.options);
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
  if (size) {
    split_[bucket] = std::max<int64_t>(1, static_cast<int64_t>(keys.size()) / 2);
    log_.Warn(Str("batch ", b.id, " refused for size (", m, "): split, at most ", split_[bucket],
                  " requests per batch of ", q.provider, ":", q.model));
  } else {
    hold_until_ms_[bucket] = now + PollMs(info.options);
    log_.Warn(Str("batch ", b.id, " of ", q.provider, ":", q.model, " not made (", m,
                  "); its requests wait and are sent again"));
  }
  queued_ += 1;
  return store_.Commit();
}

Status BatchManager::Adopt(BatchRow& b) {
  const std::string tag = Str("codesweep-", b.id, "-", b.created_ms);
  const ModelInfo* info = nullptr;
  if (Result<const ModelInfo*> m = Model(b.variant_id); m.ok()) info = *m;
  CS_ASSIGN_OR_RETURN(BatchApiClient client, Client(b.provider, b.base_url, b.api_key_env,
                                                    info != nullptr ? &info->options : nullptr));
  Result<std::optional<BatchInfo>> found = client.FindByTag(tag);
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
  } else {
    b.state = "refused";
    b.error = "not created (the coordinator stopped while creating it)";
    b.ended_ms = NowMs();
    CS_RETURN_IF_ERROR(store_.RequeueBatchRequests(b.id).status());
  }
  CS_RETURN_IF_ERROR(store_.UpdateBatch(b));
  return store_.Commit();
}

Result<int64_t> BatchManager::Poll(BatchRow& b) {
  const ModelInfo* info = nullptr;
  if (Result<const ModelInfo*> m = Model(b.variant_id); m.ok()) info = *m;
  const int64_t poll = info != nullptr ? PollMs(info->options) : 30'000;
  CS_ASSIGN_OR_RETURN(BatchApiClient client, Client(b.provider, b.base_url, b.api_key_env,
                                                    info != nullptr ? &info->options : nullptr));
  Result<BatchInfo> got = client.Get(b.provider_id);
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
  if (got->live()) {
    b.next_poll_ms = NowMs() + poll;
    CS_RETURN_IF_ERROR(store_.UpdateBatch(b));
    return int64_t{0};
  }
  return Collect(b, client, *got);
}

Result<int64_t> BatchManager::Collect(BatchRow& b, BatchApiClient& client, const BatchInfo& info) {
  const int64_t now = NowMs();
  if (info.state == "failed") {
    b.state = "failed";
    b.error = info.error;
    b.ended_ms = now;
    CS_RETURN_IF_ERROR(store_.RequeueBatchRequests(b.id).status());
    CS_RETURN_IF_ERROR(store_.UpdateBatch(b));
    CS_RETURN_IF_ERROR(store_.Commit());
    return int64_t{0};
  }
  Result<std::vector<BatchItem>> items = client.Results(info);
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
  std::vector<BatchAnswer> answers;
  double cost = 0;
  for (BatchItem& item : *items) {
    BatchAnswer a;
    a.call_key = item.custom_id;
    CS_ASSIGN_OR_RETURN(std::optional<BatchRequestRow> req, store_.GetBatchRequest(a.call_key));
    if (!req || req->batch_id != b.id) continue;  // not one of ours
    const bool tries_left = req->tries < opt_.max_tries;
    if (item.ok) {
      Result<LlmResponse> resp = ParseResponseBody(format, item.body);
      if (resp.ok()) {
        resp->batch = true;
        resp->http_status = 200;
        resp->attempts = 1;
        resp->cost_usd = price ? BatchCostUsd(*price, resp->usage) : 0.0;
        cost += resp->cost_usd;
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
    answers.push_back(std::move(a));
  }
  CS_ASSIGN_OR_RETURN(int64_t unparked, store_.EndBatch(b.id, answers, now));
  b.state = info.state;
  b.n_done = info.done;
  b.n_failed = info.failed;
  b.cost_usd = cost;
  b.ended_ms = now;
  CS_RETURN_IF_ERROR(store_.UpdateBatch(b));
  CS_RETURN_IF_ERROR(store_.Commit());
  log_.Info(Str("batch ", b.id, " (", b.provider_id, ") ", info.state, ": ", info.done,
                " answered, ", info.failed, " failed; ", unparked, " cell(s) runnable again"));
  queued_ += 1;  // resent requests may wait in the queue now
  return unparked;
}

Result<int> BatchManager::CancelLive(int64_t sweep_id) {
  CS_ASSIGN_OR_RETURN(std::vector<BatchRow> live, store_.LiveBatches());
  int n = 0;
  for (const BatchRow& b : live) {
    if ((sweep_id != 0 && b.sweep_id != sweep_id) || b.provider_id.empty()) continue;
    const ModelInfo* info = nullptr;
    if (Result<const ModelInfo*> m = Model(b.variant_id); m.ok()) info = *m;
    CS_ASSIGN_OR_RETURN(BatchApiClient client, Client(b.provider, b.base_url, b.api_key_env,
                                                      info != nullptr ? &info->options : nullptr));
    CS_RETURN_IF_ERROR(client.Cancel(b.provider_id).status());
    ++n;
  }
  return n;
}

}  // namespace codesweep
