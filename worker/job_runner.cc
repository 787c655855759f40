// MakeRealRunner and the metered LlmClient decorator.
#include "worker/job_runner.h"

#include <nlohmann/json.hpp>

namespace codesweep {
namespace {

// A call rate-limited this many times in a row fails (retryable) instead of asking again.
constexpr int kMaxRateLimitedPerCall = 1'000;

int64_t EstimateTokens(const LlmRequest& request) {
  size_t chars = 0;
  for (const ChatMessage& m : request.messages) chars += m.content.size();
  return static_cast<int64_t>(chars / 4) + request.gen.max_tokens;
}

class MeteredClient final : public LlmClient {
 public:
  MeteredClient(std::unique_ptr<LlmClient> inner, ModelSpec model, CallGate& gate)
      : inner_(std::move(inner)),
        model_(std::move(model)),
        alias_(KeyAliasOf(model_)),
        batch_(BatchMode(model_)),
        gate_(gate) {}

  Result<LlmResponse> Complete(const LlmRequest& request) override {
    CallMsg call;
    call.call_key = ComputeCallKey(model_, request).value();
    call.provider = model_.provider;
    call.model = model_.name;
    call.key_alias = alias_;
    call.est_tokens = EstimateTokens(request);
    stats_ = {};
    if (batch_) {
      CS_ASSIGN_OR_RETURN(call.batch_body, inner_->BatchRequestBody(request));
    }
    while (true) {
      CS_ASSIGN_OR_RETURN(GrantMsg grant, gate_.Acquire(call));
      if (grant.park) return ParkedStatus(call.call_key);
      if (!grant.error.empty()) return BatchError(grant);
      if (grant.cached && grant.batch) {
        if (std::optional<LlmResponse> stored = FromBatch(grant)) return *stored;
      }
      if (grant.cached) {
        if (std::optional<LlmResponse> stored = Replay(grant)) return *stored;
      }
      Watch watch(*this, call);
      Result<LlmResponse> resp = Attempt(request, watch);
      if (watch.cached_meanwhile) {  // an identical call finished while this one was retrying
        if (std::optional<LlmResponse> stored = Replay(*watch.cached_meanwhile)) return *stored;
        continue;
      }
      const bool limited = !resp.ok() && inner_->last_call_stats().http_status == 429;
      if (limited && stats_.rate_limited < kMaxRateLimitedPerCall) continue;  // ask again
      if (resp.ok()) {
        resp->attempts = stats_.attempts;
        resp->rate_limited = stats_.rate_limited;
      }
      return resp;
    }
  }
  LlmCapabilities capabilities() const override { return inner_->capabilities(); }
  LlmCallStats last_call_stats() const override { return stats_; }

 private:
  // The observer of one granted provider call (passed with it, so the call may run anywhere):
  // the latest rate-limit state for the next CALL_RESULT, and a new grant before each retry.
  struct Watch final : CallObserver {
    Watch(MeteredClient& c, const CallMsg& m) : client(c), call(m) {}
    void OnRateInfo(const RateLimitInfo& i) override { info = i; }
    Status BeforeRetry(const AttemptOutcome& failed) override {
      return client.Regrant(*this, failed);
    }
    MeteredClient& client;
    const CallMsg& call;
    std::optional<RateLimitInfo> info;         // seen since the last CALL_RESULT
    std::optional<GrantMsg> cached_meanwhile;  // an identical call's answer ended the retries
  };

  static bool BatchMode(const ModelSpec& model) {
    nlohmann::json o = nlohmann::json::parse(model.options_json, nullptr, false);
    return o.is_object() && o.contains("batch") && o["batch"].is_boolean() &&
           o["batch"].get<bool>();
  }

  // A request that failed inside its provider batch ends the call as the same HTTP error of a
  // synchronous call would (jobs/llm/retry.h classifies it).
  Status BatchError(const GrantMsg& grant) {
    stats_.http_status = grant.error_http_status;
    stats_.attempts = 1;
    const std::string why = Str("HTTP ", grant.error_http_status, " from ", model_.id,
                                " (in a provider batch): ", grant.error);
    switch (ClassifyHttpStatus(grant.error_http_status)) {
      case AttemptClass::kOk:
      case AttemptClass::kTransient:
      case AttemptClass::kMalformed:
        return Status::Unavailable(why);
      case AttemptClass::kRateLimited:
        return Status::ResourceExhausted(why);
      case AttemptClass::kPermanent:
        break;
    }
    return Status(PermanentStatusCode(grant.error_http_status), why);
  }

  // The answer a provider batch gave this job's call: recorded as a paid call (its cost at batch
  // prices was set by the coordinator), not as a cache hit.
  std::optional<LlmResponse> FromBatch(const GrantMsg& grant) const {
    Result<LlmResponse> stored = ResponseFromJson(grant.response_json);
    if (!stored.ok()) return std::nullopt;
    stored->cached = false;
    stored->batch = true;
    stored->attempts = 1;
    return std::move(stored).value();
  }

  // The stored response of a cached GRANT, or nullopt when it does not parse.
  std::optional<LlmResponse> Replay(const GrantMsg& grant) const {
    Result<LlmResponse> stored = ResponseFromJson(grant.response_json);
    if (!stored.ok()) return std::nullopt;
    stored->cached = true;
    stored->batch = false;
    stored->latency_ms = 0;
    stored->cost_usd = 0;
    if (stats_.attempts > 0) {  // attempts before a follower's answer arrived
      stored->attempts = stats_.attempts;
      stored->rate_limited = stats_.rate_limited;
    }
    return std::move(stored).value();
  }

  // A CALL_RESULT for the watched call, carrying (and consuming) the rate-limit state it saw.
  CallResultMsg BaseReport(Watch& watch) const {
    CallResultMsg report;
    report.call_key = watch.call.call_key;
    report.provider = watch.call.provider;
    report.model = watch.call.model;
    report.key_alias = alias_;
    if (watch.info) report.headers = RateLimitHeaderPairs(*watch.info);
    watch.info.reset();
    return report;
  }

  // Before the provider client retries a failed attempt: report it (its grant ends) and ask for
  // a new grant, so the retry is charged to the budget. A cached answer ends the retries.
  Status Regrant(Watch& watch, const AttemptOutcome& failed) {
    CallResultMsg report = BaseReport(watch);
    report.ok = false;
    report.http_status = failed.http_status;
    gate_.Report(std::move(report));
    holding_grant_ = false;
    CS_ASSIGN_OR_RETURN(GrantMsg grant, gate_.Acquire(watch.call));
    if (grant.cached) {
      watch.cached_meanwhile = std::move(grant);
      return Status::AlreadyExists("answered from the call cache while retrying");
    }
    holding_grant_ = true;
    return Status::OK();
  }

  // One granted provider call (its retries re-granted through Regrant) and its CALL_RESULT.
  Result<LlmResponse> Attempt(const LlmRequest& request, Watch& watch) {
    holding_grant_ = true;
    Result<LlmResponse> resp = inner_->Complete(request, watch);
    const LlmCallStats inner = inner_->last_call_stats();
    stats_.attempts += inner.attempts;
    stats_.rate_limited += inner.rate_limited;
    stats_.http_status = inner.http_status;
    stats_.latency_ms += inner.latency_ms;
    if (!holding_grant_) return resp;  // the last attempt was reported by Regrant
    CallResultMsg report = BaseReport(watch);
    report.ok = resp.ok();
    report.http_status = inner.http_status;
    report.rate_limited = inner.rate_limited;
    report.latency_ms = inner.latency_ms;
    if (resp.ok()) {
      report.response_json = ResponseToJson(*resp);
      report.tokens_in = resp->usage.input_tokens;
      report.tokens_out = resp->usage.output_tokens;
      report.latency_ms = resp->latency_ms;
      report.http_status = resp->http_status;
    }
    gate_.Report(std::move(report));
    holding_grant_ = false;
    return resp;
  }

  std::unique_ptr<LlmClient> inner_;
  ModelSpec model_;
  std::string alias_;
  bool batch_ = false;  // the model's `batch = true`: uncached calls wait in provider batches
  CallGate& gate_;
  LlmCallStats stats_;
  bool holding_grant_ = false;  // a GRANT{go} whose CALL_RESULT is not sent yet
};

}  // namespace

std::string KeyAliasOf(const ModelSpec& model) {
  nlohmann::json o = nlohmann::json::parse(model.options_json, nullptr, false);
  for (const char* name : {"key_alias", "api_key_env"}) {
    if (o.is_object() && o.contains(name) && o[name].is_string()) {
      return o[name].get<std::string>();
    }
  }
  return model.provider == "anthropic" ? "ANTHROPIC_API_KEY" : "OPENAI_API_KEY";
}

std::unique_ptr<LlmClient> MakeMeteredClient(std::unique_ptr<LlmClient> inner,
                                             const ModelSpec& model, CallGate& gate) {
  return std::make_unique<MeteredClient>(std::move(inner), model, gate);
}

JobRunner MakeRealRunner(RealRunnerDeps deps) {
  return [deps](const JobSpec& spec, CallGate& gate) {
    RunnerDeps run;
    run.tasks = deps.tasks;
    run.executor = deps.executor;
    run.clock = deps.clock;
    run.make_client = [&](const JobSpec& s, const Task& task,
                          const Instance& instance) -> Result<std::unique_ptr<LlmClient>> {
      CS_ASSIGN_OR_RETURN(std::unique_ptr<LlmClient> client, deps.base_factory(s, task, instance));
      if (s.model.provider == "sim") return client;
      return MakeMeteredClient(std::move(client), s.model, gate);
    };
    return RunJob(spec, run);
  };
}

}  // namespace codesweep
