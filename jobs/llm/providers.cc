// HttpProviderClient: one LlmClient for both wire formats, sending through the shared HttpEngine
// and retrying through the Retrier.
#include "jobs/llm/providers.h"

#include <thread>

#include "base/hash.h"
#include "jobs/llm/http.h"
#include "jobs/llm/provider_options.h"
#include "jobs/llm/wire_format.h"

namespace codesweep {
namespace {

bool IsBlank(const std::string& body) {
  return body.find_first_not_of(" \t\r\n") == std::string::npos;
}

struct ClientParts {
  ModelSpec model;
  ProviderOptions options;
  std::string api_key;  // in memory only
  std::optional<Price> price;
  std::shared_ptr<HttpEngine> http;
  HttpHeaders headers;  // every header but the key's, in send order
};

class HttpProviderClient final : public LlmClient {
 public:
  HttpProviderClient(ClientParts parts, const ProviderEnv& env)
      : p_(std::move(parts)),
        logger_(env.logger != nullptr ? env.logger : &Logger::Null()),
        rate_limit_by_caller_(env.rate_limit_by_caller),
        clock_(env.clock != nullptr ? env.clock : &system_clock_),
        sleep_(env.sleep ? env.sleep : [](Millis d) { std::this_thread::sleep_for(d); }) {}

  Result<LlmResponse> Complete(const LlmRequest& request) override { return Run(request, nullptr); }
  Result<LlmResponse> Complete(const LlmRequest& request, CallObserver& observer) override {
    return Run(request, &observer);
  }
  LlmCapabilities capabilities() const override { return p_.options.capabilities; }
  LlmCallStats last_call_stats() const override { return stats_; }
  Result<std::string> BatchRequestBody(const LlmRequest& request) const override {
    return BuildRequestBody(p_.options.format, p_.model.name, request, p_.options);
  }

 private:
  Result<LlmResponse> Run(const LlmRequest& request, CallObserver* observer);
  HttpRequest BaseRequest(std::string body) const;
  AttemptOutcome Attempt(const HttpRequest& base, int64_t remaining_ms, CallObserver* observer,
                         LlmResponse* out);
  AttemptOutcome Classify(const HttpResponse& http, CallObserver* observer, LlmResponse* out);
  std::string Redact(std::string text) const { return RedactSecrets(std::move(text), p_.api_key); }

  ClientParts p_;
  Logger* logger_;
  bool rate_limit_by_caller_;
  SystemClock system_clock_;
  const Clock* clock_;
  Retrier::Sleep sleep_;
  LlmCallStats stats_;
  uint64_t calls_ = 0;
};

HttpRequest HttpProviderClient::BaseRequest(std::string body) const {
  HttpRequest req;
  const bool openai = p_.options.format == WireFormat::kOpenAi;
  req.url = p_.options.base_url + (openai ? "/chat/completions" : "/v1/messages");
  req.body = std::move(body);
  req.connect_timeout_ms = p_.options.connect_timeout_ms;
  req.headers = p_.headers;
  if (!p_.api_key.empty()) {
    req.headers.emplace_back(openai ? "Authorization" : "x-api-key",
                             openai ? "Bearer " + p_.api_key : p_.api_key);
  }
  return req;
}

AttemptOutcome HttpProviderClient::Classify(const HttpResponse& http, CallObserver* observer,
                                            LlmResponse* out) {
  AttemptOutcome o;
  o.http_status = http.status;
  o.cls = ClassifyHttpStatus(http.status);
  o.retry_after_ms = ParseRetryAfterMs(http.headers, clock_->WallMs());
  if (observer != nullptr) {
    RateLimitInfo info = ParseRateLimitHeaders(http.headers, clock_->WallMs());
    info.http_status = http.status;
    if (info.present() || http.status == 429) observer->OnRateInfo(info);
  }
  const std::string where = Str("HTTP ", http.status, " from ", p_.model.id, ": ");
  switch (o.cls) {
    case AttemptClass::kOk: {
      if (IsBlank(http.body)) {  // seen from real servers under sampling; another try may answer
        o.cls = AttemptClass::kTransient;
        o.status = Status::Unavailable(where + "empty response body");
        break;
      }
      Result<LlmResponse> parsed = ParseResponseBody(p_.options.format, http.body);
      if (!parsed.ok()) {
        o.cls = AttemptClass::kMalformed;
        o.status = Status::InvalidArgument(where + parsed.status().message());
      } else {
        *out = std::move(parsed).value();
      }
      break;
    }
    case AttemptClass::kRateLimited:
      o.status = Status::ResourceExhausted(where + Redact(ExtractErrorMessage(http.body)));
      break;
    case AttemptClass::kTransient:
      if (http.status >= 500 && (http.status < 502 || http.status > 504)) o.error_body = http.body;
      o.status =
          Status(http.status == 408 ? StatusCode::kDeadlineExceeded : StatusCode::kUnavailable,
                 where + Redact(ExtractErrorMessage(http.body)));
      break;
    default:
      o.status =
          Status(PermanentStatusCode(http.status), where + Redact(ExtractErrorMessage(http.body)));
  }
  return o;
}

AttemptOutcome HttpProviderClient::Attempt(const HttpRequest& base, int64_t remaining_ms,
                                           CallObserver* observer, LlmResponse* out) {
  HttpRequest req = base;
  req.timeout_ms = std::min(p_.options.timeout_ms, remaining_ms);
  Result<HttpResponse> http = p_.http->Send(std::move(req));
  if (http.ok()) return Classify(*http, observer, out);
  AttemptOutcome o;
  o.status = http.status().WithContext(p_.model.id);
  o.cls = http.status().code() == StatusCode::kResourceExhausted ? AttemptClass::kMalformed
                                                                 : AttemptClass::kTransient;
  return o;
}

Result<LlmResponse> HttpProviderClient::Run(const LlmRequest& request, CallObserver* observer) {
  stats_ = {};
  const SteadyTime start = clock_->Now();
  CS_ASSIGN_OR_RETURN(std::string body,
                      BuildRequestBody(p_.options.format, p_.model.name, request, p_.options));
  const HttpRequest base = BaseRequest(std::move(body));
  RetryPolicy policy = p_.options.retry;
  if (rate_limit_by_caller_) policy.max_rate_limited = 0;  // the first 429 ends the call
  Retrier retrier(policy, clock_, sleep_,
                  Sha256U64(base.body) ^ (reinterpret_cast<uintptr_t>(this) + ++calls_));
  bool caller_stopped = false;
  if (observer != nullptr) {
    retrier.set_before_retry([observer, &caller_stopped](const AttemptOutcome& failed) {
      Status s = observer->BeforeRetry(failed);
      caller_stopped = !s.ok();
      return s;
    });
  }
  LlmResponse response;
  RetryStats rs;
  Status s = retrier.Run(
      [&](int64_t remaining_ms) { return Attempt(base, remaining_ms, observer, &response); }, &rs);
  stats_ = {rs.attempts, rs.rate_limited, rs.http_status,
            std::chrono::duration_cast<Millis>(clock_->Now() - start).count()};
  if (!s.ok()) {
    Status redacted(s.code(), Redact(s.message()));
    // The caller re-asks after a 429, and a call it stopped itself is its own business.
    if (!caller_stopped && (!rate_limit_by_caller_ || rs.http_status != 429)) {
      logger_->Warn(Str("llm call failed model=", p_.model.id, " attempts=", rs.attempts,
                        " rate_limited=", rs.rate_limited, " error=", redacted.ToString()));
    }
    return redacted;
  }
  response.http_status = rs.http_status;
  response.attempts = rs.attempts;
  response.rate_limited = rs.rate_limited;
  response.latency_ms = stats_.latency_ms;
  if (p_.price) response.cost_usd = CostUsd(*p_.price, response.usage);
  return response;
}

std::optional<Price> LookUpPrice(const ModelSpec& model, const ProviderOptions& options,
                                 const ProviderEnv& env, Logger* logger) {
  if (options.price) return options.price;
  if (env.prices) return env.prices->Find(model.id);
  const std::string dir =
      env.data_dir.empty() ? std::string(CODESWEEP_SOURCE_DIR) + "/data" : env.data_dir;
  Result<PriceTable> table = PriceTable::Load(dir + "/prices.json");
  if (!table.ok()) {
    logger->Warn("no price table: " + table.status().ToString() + "; costs recorded as 0");
    return std::nullopt;
  }
  return table->Find(model.id);
}

HttpHeaders CommonHeaders(const ProviderOptions& o, const ProviderEnv& env) {
  HttpHeaders h = {{"Content-Type", "application/json"}};
  if (o.format == WireFormat::kAnthropic) h.emplace_back("anthropic-version", o.anthropic_version);
  for (const auto& kv : o.headers) h.push_back(kv);
  if (o.cell_context_header) {
    for (const auto& kv : env.extra_headers) h.push_back(kv);
  }
  return h;
}

}  // namespace

Result<std::unique_ptr<LlmClient>> MakeProviderClient(const ModelSpec& model,
                                                      const ProviderEnv& env) {
  CS_ASSIGN_OR_RETURN(ProviderOptions options, ParseProviderOptions(model));
  Logger* logger = env.logger != nullptr ? env.logger : &Logger::Null();
  ClientParts parts;
  if (!options.api_key_env.empty()) {
    std::optional<std::string> key =
        env.get_secret ? env.get_secret(options.api_key_env) : std::nullopt;
    if (!key || key->empty()) {
      return Status::FailedPrecondition(model.id + ": API key variable " + options.api_key_env +
                                        " is not set");
    }
    parts.api_key = *key;
  }
  parts.http = env.http;
  if (!parts.http) {
    CS_ASSIGN_OR_RETURN(parts.http, MakeHttpEngine());
  }
  parts.price = LookUpPrice(model, options, env, logger);
  parts.headers = CommonHeaders(options, env);
  parts.model = model;
  parts.options = std::move(options);
  return std::unique_ptr<LlmClient>(new HttpProviderClient(std::move(parts), env));
}

Status ValidateProviderModel(const ModelSpec& model) {
  return ParseProviderOptions(model).status();
}

LlmCapabilities ProviderCapabilities(const ModelSpec& model) {
  Result<ProviderOptions> o = ParseProviderOptions(model);
  return o.ok() ? o->capabilities : DefaultCapabilities(model.provider, model.name);
}

}  // namespace codesweep
