// MakeRealRunner and the metered LlmClient decorator.
#include "worker/job_runner.h"

#include <nlohmann/json.hpp>

namespace codesweep {
namespace {

std::string KeyAlias(const ModelSpec& model) {
  nlohmann::json o = nlohmann::json::parse(model.options_json, nullptr, false);
  if (o.is_object() && o.contains("api_key_env") && o["api_key_env"].is_string()) {
    return o["api_key_env"].get<std::string>();
  }
  return model.provider == "anthropic" ? "ANTHROPIC_API_KEY" : "OPENAI_API_KEY";
}

int64_t EstimateTokens(const LlmRequest& request) {
  size_t chars = 0;
  for (const ChatMessage& m : request.messages) chars += m.content.size();
  return static_cast<int64_t>(chars / 4) + request.gen.max_tokens;
}

class MeteredClient final : public LlmClient {
 public:
  MeteredClient(std::unique_ptr<LlmClient> inner, ModelSpec model, CallGate& gate)
      : inner_(std::move(inner)), model_(std::move(model)), alias_(KeyAlias(model_)), gate_(gate) {}

  Result<LlmResponse> Complete(const LlmRequest& request) override {
    CallMsg call;
    call.call_key = ComputeCallKey(model_, request).value();
    call.provider = model_.provider;
    call.model = model_.name;
    call.key_alias = alias_;
    call.est_tokens = EstimateTokens(request);
    CS_ASSIGN_OR_RETURN(GrantMsg grant, gate_.Acquire(call));
    if (grant.cached) {
      Result<LlmResponse> stored = ResponseFromJson(grant.response_json);
      if (stored.ok()) {
        stored->cached = true;
        stored->latency_ms = 0;
        stored->cost_usd = 0;
        return stored;
      }
    }
    Result<LlmResponse> resp = inner_->Complete(request);
    CallResultMsg report;
    report.call_key = call.call_key;
    report.provider = call.provider;
    report.model = call.model;
    report.key_alias = alias_;
    report.ok = resp.ok();
    if (resp.ok()) {
      report.response_json = ResponseToJson(*resp);
      report.tokens_in = resp->usage.input_tokens;
      report.tokens_out = resp->usage.output_tokens;
      report.latency_ms = resp->latency_ms;
      report.http_status = resp->http_status;
      report.rate_limited = resp->rate_limited;
    }
    gate_.Report(std::move(report));
    return resp;
  }
  LlmCapabilities capabilities() const override { return inner_->capabilities(); }

 private:
  std::unique_ptr<LlmClient> inner_;
  ModelSpec model_;
  std::string alias_;
  CallGate& gate_;
};

}  // namespace

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
