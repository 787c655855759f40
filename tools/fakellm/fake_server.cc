// fakellm request handling: limits, faults, answers, stats.
#include "tools/fakellm/fake_server.h"

#include <chrono>
#include <cmath>
#include <ctime>
#include <optional>

#include "base/hash.h"
#include "jobs/llm/sim/sim.h"
#include "jobs/llm/wire_format.h"

namespace codesweep::fakellm {
namespace {

using nlohmann::json;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string ApiKey(const HttpIn& req) {
  std::string auth = req.Header("Authorization");
  if (auth.starts_with("Bearer ")) return auth.substr(7);
  return req.Header("x-api-key");
}

std::string KeyAlias(const std::string& key) {
  return key.empty() ? "anonymous" : Sha256Hex(key).substr(0, 12);
}

bool KeyAccepted(const std::string& valid_keys, const std::string& key) {
  if (valid_keys.empty()) return true;
  size_t start = 0;
  while (start <= valid_keys.size()) {
    size_t end = valid_keys.find(',', start);
    if (end == std::string::npos) end = valid_keys.size();
    if (!key.empty() && valid_keys.compare(start, end - start, key) == 0) return true;
    start = end + 1;
  }
  return false;
}

int64_t EstimateTokens(const std::string& text) {
  return 1 + static_cast<int64_t>(text.size()) / 4;
}

void EstimateUsage(const LlmRequest& request, LlmResponse* r) {
  if (r->usage.input_tokens > 0 || r->usage.output_tokens > 0) return;
  int64_t in = 0;
  for (const ChatMessage& m : request.messages) in += EstimateTokens(m.content);
  int64_t out = EstimateTokens(r->content);
  for (const ToolCall& c : r->tool_calls) out += EstimateTokens(c.arguments_json);
  r->usage = {.input_tokens = in, .output_tokens = out};
}

std::string ConversationId(const HttpIn& req, const LlmRequest& request) {
  std::string conv = req.Header("X-Codesweep-Conversation");
  if (!conv.empty()) return conv;
  for (const ChatMessage& m : request.messages) {
    if (m.role == "user") return Sha256Hex(m.content);
  }
  return "";
}

int TurnIndex(const LlmRequest& request) {
  int turn = 0;
  for (const ChatMessage& m : request.messages) turn += m.role == "assistant" ? 1 : 0;
  return turn;
}

void RateHeaders(WireFormat format, const FakeConfig& c, const KeyLimiter::Decision& d,
                 HttpOut& res) {
  auto ms = [](int64_t v) { return std::to_string(v) + "ms"; };
  if (format == WireFormat::kOpenAi) {
    if (c.rpm > 0) {
      res.headers.emplace_back("x-ratelimit-limit-requests", std::to_string(c.rpm));
      res.headers.emplace_back("x-ratelimit-remaining-requests",
                               std::to_string(d.remaining_requests));
      res.headers.emplace_back("x-ratelimit-reset-requests", ms(d.reset_requests_ms));
    }
    if (c.tpm > 0) {
      res.headers.emplace_back("x-ratelimit-limit-tokens", std::to_string(c.tpm));
      res.headers.emplace_back("x-ratelimit-remaining-tokens", std::to_string(d.remaining_tokens));
      res.headers.emplace_back("x-ratelimit-reset-tokens", ms(d.reset_tokens_ms));
    }
    return;
  }
  auto at = [](int64_t delta_ms) {  // RFC 3339 UTC time, as Anthropic sends
    const std::time_t t = std::time(nullptr) + (delta_ms + 999) / 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return std::string(buf);
  };
  if (c.rpm > 0) {
    res.headers.emplace_back("anthropic-ratelimit-requests-limit", std::to_string(c.rpm));
    res.headers.emplace_back("anthropic-ratelimit-requests-remaining",
                             std::to_string(d.remaining_requests));
    res.headers.emplace_back("anthropic-ratelimit-requests-reset", at(d.reset_requests_ms));
  }
  if (c.tpm > 0) {
    res.headers.emplace_back("anthropic-ratelimit-tokens-limit", std::to_string(c.tpm));
    res.headers.emplace_back("anthropic-ratelimit-tokens-remaining",
                             std::to_string(d.remaining_tokens));
    res.headers.emplace_back("anthropic-ratelimit-tokens-reset", at(d.reset_tokens_ms));
  }
}

void SendError(WireFormat format, int status, const std::string& code, const std::string& message,
               HttpOut& res) {
  res.status = status;
  res.body = BuildErrorBody(format, status, code, message);
}

// Models scripted to answer a deterministic client error with HTTP 500 and the same body every
// time, as some servers do: "broken*" always, "nojinja*" when the request has tools (llama.cpp
// without --jinja).
std::optional<std::string> ScriptedServerError(const std::string& model,
                                               const LlmRequest& request) {
  if (model.starts_with("broken")) return "fakellm: model " + model + " is broken";
  if (model.starts_with("nojinja") && !request.tools.empty()) {
    return "tools param requires --jinja flag";
  }
  return std::nullopt;
}

// Which draw a request's latency takes: its admission count, or (latency_key "prompt") a hash of
// its messages, so the same prompt waits as long whoever sends it and whenever.
uint64_t LatencyDraw(const FakeConfig& c, const LlmRequest& request, uint64_t admission) {
  if (c.latency_key != "prompt") return admission;
  uint64_t h = 1469598103934665603ULL;  // FNV-1a over role, content, role, content, ...
  auto mix = [&h](const std::string& text) {
    for (unsigned char ch : text) h = (h ^ ch) * 1099511628211ULL;
    h = (h ^ 0xFFu) * 1099511628211ULL;  // a separator no UTF-8 text contains
  };
  for (const ChatMessage& m : request.messages) {
    mix(m.role);
    mix(m.content);
  }
  return h;
}

int64_t LatencyMs(const FakeConfig& c, Rng& rng) {
  if (c.latency_ms <= 0) return 0;
  if (c.latency_dist == "exponential") {
    return static_cast<int64_t>(-std::log(1.0 - rng.Unit()) * static_cast<double>(c.latency_ms));
  }
  const int64_t j = std::min(c.latency_jitter_ms, c.latency_ms);
  return c.latency_ms + (j > 0 ? rng.Uniform(-j, j) : 0);
}

}  // namespace

FakeServer::FakeServer(ServerOptions options, FakeConfig config, Logger* logger)
    : options_(std::move(options)), logger_(logger), config_(std::move(config)) {}

FakeServer::~FakeServer() { Stop(); }

FakeConfig FakeServer::Config() {
  std::lock_guard<std::mutex> lock(mu_);
  return config_;
}

void FakeServer::Count(const std::string& key, const std::function<void(KeyStats&)>& f) {
  std::lock_guard<std::mutex> lock(mu_);
  f(stats_.total);
  f(stats_.keys[key]);
}

void FakeServer::Stop() {
  if (http_) http_->Stop();
}

Result<LlmResponse> FakeServer::Replay(const HttpIn& req, const LlmRequest& request) {
  const std::string hash = Sha256Hex(CanonicalRequestJson(request));
  if (auto by = replay_.find("by_hash"); by != replay_.end() && by->contains(hash)) {
    return ResponseFromJson((*by)[hash].dump());
  }
  auto seqs = replay_.find("sequences");
  if (seqs != replay_.end()) {
    const std::string conv = ConversationId(req, request);
    const json* seq = seqs->contains(conv)  ? &(*seqs)[conv]
                      : seqs->contains("*") ? &(*seqs)["*"]
                                            : nullptr;
    const size_t turn = static_cast<size_t>(TurnIndex(request));
    if (seq != nullptr && seq->is_array() && turn < seq->size()) {
      return ResponseFromJson((*seq)[turn].dump());
    }
  }
  if (replay_.contains("default")) return ResponseFromJson(replay_["default"].dump());
  return Status::NotFound("fakellm replay: no scripted response for request hash " + hash);
}

LlmResponse FakeServer::SimOrGeneric(WireFormat format, const HttpIn& req,
                                     const LlmRequest& request, const std::string& model) {
  const std::string cell = req.Header("X-Codesweep-Cell");
  if (!cell.empty() && tasks_) {
    json c = json::parse(cell, nullptr, false);
    const Task* task = c.is_object() ? tasks_->Find(c.value("task", "")) : nullptr;
    Result<SimOptions> sim = SimOptions::FromJson(Config().sim_options);
    if (task != nullptr && sim.ok()) {
      Result<Instance> inst = task->Generate(
          c.value("complexity", ""), c.value("sample", int64_t{0}), c.value("seed", uint64_t{0}));
      if (inst.ok()) {
        const std::string provider = format == WireFormat::kOpenAi ? "openai" : "anthropic";
        ModelSpec spec{provider + ":" + model, provider, model, "{}"};
        SimContext ctx{task, &*inst, c.value("method", "")};
        LlmResponse r = SimRespond(*sim, ctx, spec, request);
        r.usage.estimated = false;
        return r;
      }
    }
  }
  const std::string hash = Sha256Hex(CanonicalRequestJson(request));
  LlmResponse r;
  r.content =
      "fakellm reply " + hash.substr(0, 12) + ". The answer is <<<" + hash.substr(0, 4) + ">>>";
  r.finish_reason = "stop";
  return r;
}

Result<LlmResponse> FakeServer::Answer(WireFormat format, const HttpIn& req,
                                       const LlmRequest& request, const std::string& model) {
  LlmResponse r;
  if (!replay_.is_null()) {
    CS_ASSIGN_OR_RETURN(r, Replay(req, request));
  } else {
    r = SimOrGeneric(format, req, request, model);
  }
  if (r.finish_reason.empty()) r.finish_reason = r.tool_calls.empty() ? "stop" : "tool_calls";
  EstimateUsage(request, &r);
  return r;
}

void FakeServer::Record(const LlmRequest& request, const LlmResponse& response) {
  if (!record_.is_open()) return;
  const std::string canonical = CanonicalRequestJson(request);
  json line = {{"hash", Sha256Hex(canonical)},
               {"turn", TurnIndex(request)},
               {"request", json::parse(canonical)},
               {"response", json::parse(ResponseToJson(response))}};
  std::lock_guard<std::mutex> lock(record_mu_);
  record_ << line.dump(-1, ' ', false, json::error_handler_t::replace) << "\n" << std::flush;
}

bool FakeServer::ApplyFault(WireFormat format, const FakeConfig& c, uint64_t rng_seed,
                            std::string body, HttpOut& res) {
  Rng rng(rng_seed);
  double u = rng.Unit();
  auto hit = [&u](double p) {
    u -= p;
    return u < 0;
  };
  auto bump = [this](int64_t Stats::*field) {
    std::lock_guard<std::mutex> lock(mu_);
    ++(stats_.*field);
  };
  for (int status : {500, 502, 503}) {
    if (hit(status == 500 ? c.p_500 : status == 502 ? c.p_502 : c.p_503)) {
      bump(&Stats::errors_5xx);
      // Numbered like a real provider's request id, so two injected errors never look like one
      // deterministic error (which the client stops retrying).
      SendError(format, status, "",
                "fakellm injected " + std::to_string(status) + " (request " +
                    std::to_string(rng_seed % 1'000'000'007) + ")",
                res);
      return true;
    }
  }
  if (hit(c.p_drop)) {
    bump(&Stats::drops);
    res.body = std::move(body);
    res.drop = true;
    return true;
  }
  if (hit(c.p_truncate)) {
    bump(&Stats::truncated);
    res.body = body.substr(0, body.size() / 2);
    return true;
  }
  if (hit(c.p_slow)) {
    bump(&Stats::slow);
    res.delay_ms = c.slow_ms;
    res.body = std::move(body);
    return true;
  }
  if (hit(c.p_empty)) {
    bump(&Stats::empty);
    res.body.clear();
    return true;
  }
  if (hit(c.p_oversize)) {
    bump(&Stats::oversize);
    const size_t pad = static_cast<size_t>(std::max<int64_t>(0, c.oversize_bytes));
    res.body = "{\"pad\":\"" + std::string(pad, 'x') + "\"," + body.substr(1);
    return true;
  }
  return false;
}

HttpOut FakeServer::Handle(WireFormat format, const HttpIn& req) {
  HttpOut res;
  const int64_t now_inflight = ++inflight_;
  res.finished = [this] { --inflight_; };  // answered, dropped or abandoned
  const FakeConfig c = Config();
  const std::string alias = KeyAlias(ApiKey(req));
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.max_inflight = std::max(stats_.max_inflight, now_inflight);
  }
  Count(alias, [](KeyStats& s) { ++s.requests; });
  auto client_error = [&](int status, const std::string& type, const std::string& msg) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.client_errors;
    }
    SendError(format, status, type, msg, res);
    return std::move(res);
  };
  if (!KeyAccepted(c.valid_keys, ApiKey(req))) {
    return client_error(401, "invalid_api_key", "Incorrect API key provided: " + ApiKey(req));
  }
  std::string model;
  Result<LlmRequest> request = ParseRequestBody(format, req.body, &model);
  if (!request.ok()) return client_error(400, "", request.status().message());
  if (model.starts_with("missing")) {
    return client_error(404, "model_not_found", "The model '" + model + "' does not exist");
  }
  if (std::optional<std::string> broken = ScriptedServerError(model, *request)) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.errors_5xx;
    }
    SendError(format, 500, "", *broken, res);
    return res;
  }
  Result<LlmResponse> answer = Answer(format, req, *request, model);
  if (!answer.ok()) return client_error(400, "replay_miss", answer.status().message());
  if (c.context_tokens > 0 && answer->usage.input_tokens > c.context_tokens) {
    answer->usage.input_tokens = c.context_tokens;  // cut silently, as some servers do
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.prompts_cut;
  }
  const int64_t tokens = answer->usage.input_tokens + answer->usage.output_tokens;
  const int64_t now_ms = NowMs();
  KeyLimiter::Decision d = limiter_.Admit(alias, tokens, c, now_ms);
  RateHeaders(format, c, d, res);
  if (!d.allowed) {
    Count(alias, [](KeyStats& s) { ++s.rate_limited; });
    res.headers.emplace_back("retry-after", std::to_string((d.retry_after_ms + 999) / 1000));
    res.headers.emplace_back("retry-after-ms", std::to_string(d.retry_after_ms));
    SendError(format, 429, "rate_limit_exceeded", "Rate limit reached for requests", res);
    return res;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stats_.first_admit_ms == 0) stats_.first_admit_ms = now_ms;
    stats_.last_admit_ms = now_ms;
  }
  const uint64_t n = counter_.fetch_add(1);
  std::string body = BuildResponseBody(format, model, *answer, "fake-" + std::to_string(n));
  if (ApplyFault(format, c, c.seed * 0x9E3779B97F4A7C15ULL + n, body, res)) return res;
  Rng rng(c.seed ^ (LatencyDraw(c, *request, n) * 0xD1B54A32D192ED03ULL));
  res.delay_ms = LatencyMs(c, rng);
  res.headers.emplace_back("x-fakellm-latency-ms", std::to_string(res.delay_ms));
  res.body = std::move(body);
  Count(alias, [&](KeyStats& s) {
    ++s.ok;
    s.tokens_in += answer->usage.input_tokens;
    s.tokens_out += answer->usage.output_tokens;
  });
  Record(*request, *answer);
  return res;
}

json FakeServer::StatsJson() {
  // Taken before mu_: a batch answering its requests holds the batch lock and then takes mu_.
  json batch = batches_ ? batches_->StatsJson() : json();
  std::lock_guard<std::mutex> lock(mu_);
  auto key_json = [](const KeyStats& s) {
    return json{{"requests", s.requests},
                {"ok", s.ok},
                {"rate_limited", s.rate_limited},
                {"tokens_in", s.tokens_in},
                {"tokens_out", s.tokens_out}};
  };
  json out = key_json(stats_.total);
  out["errors_5xx"] = stats_.errors_5xx;
  out["client_errors"] = stats_.client_errors;
  out["drops"] = stats_.drops;
  out["truncated"] = stats_.truncated;
  out["slow"] = stats_.slow;
  out["oversize"] = stats_.oversize;
  out["empty"] = stats_.empty;
  out["prompts_cut"] = stats_.prompts_cut;
  out["inflight"] = inflight_.load();
  out["max_inflight"] = stats_.max_inflight;
  out["first_admit_ms"] = stats_.first_admit_ms;  // CLOCK_MONOTONIC ms; 0 = none yet
  out["last_admit_ms"] = stats_.last_admit_ms;
  out["keys"] = json::object();
  for (const auto& [alias, s] : stats_.keys) out["keys"][alias] = key_json(s);
  if (!batch.is_null()) out["batch"] = std::move(batch);
  return out;
}

Result<int> FakeServer::Bind() {
  if (!options_.replay_path.empty()) {
    std::ifstream in(options_.replay_path);
    if (!in) return Status::NotFound("cannot open replay file " + options_.replay_path);
    replay_ = json::parse(in, nullptr, false);
    if (replay_.is_discarded() || !replay_.is_object()) {
      return Status::InvalidArgument("replay file is not a JSON object: " + options_.replay_path);
    }
  }
  if (!options_.record_path.empty()) {
    record_.open(options_.record_path, std::ios::app);
    if (!record_) return Status::IoError("cannot open record file " + options_.record_path);
  }
  Result<std::unique_ptr<TaskRegistry>> tasks = TaskRegistry::Create(options_.data_dir);
  if (tasks.ok()) {
    tasks_ = std::move(tasks).value();
  } else {
    logger_->Warn("no task registry (sim answers disabled): " + tasks.status().ToString());
  }
  batches_ = std::make_unique<BatchApi>(
      [this](WireFormat format, const std::string& body) -> Result<BatchApi::Answered> {
        std::string model;
        CS_ASSIGN_OR_RETURN(LlmRequest request, ParseRequestBody(format, body, &model));
        HttpIn no_headers;
        CS_ASSIGN_OR_RETURN(LlmResponse answer, Answer(format, no_headers, request, model));
        const uint64_t n = counter_.fetch_add(1);
        Record(request, answer);
        return BatchApi::Answered{
            BuildResponseBody(format, model, answer, "fake-" + std::to_string(n)),
            answer.usage.input_tokens, answer.usage.output_tokens};
      },
      [] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
      });
  HttpServerOptions http;
  http.host = options_.host;
  http.port = options_.port;
  http.threads = std::max(1, options_.threads);
  http_ = std::make_unique<HttpServer>(http, [this](HttpIn& req) { return Route(req); });
  return http_->Bind();
}

HttpOut FakeServer::Route(HttpIn& req) {
  const bool post = req.method == "POST";
  if (post && req.path == "/v1/chat/completions") return Handle(WireFormat::kOpenAi, req);
  if (post && req.path == "/v1/messages") return Handle(WireFormat::kAnthropic, req);
  if (batches_ && BatchApi::Handles(req) && !req.path.starts_with("/admin/")) {
    if (!KeyAccepted(Config().valid_keys, ApiKey(req))) {
      HttpOut res;
      const WireFormat format =
          req.path.starts_with("/v1/messages/") ? WireFormat::kAnthropic : WireFormat::kOpenAi;
      SendError(format, 401, "invalid_api_key", "Incorrect API key provided", res);
      return res;
    }
    return batches_->Route(req);
  }
  if (batches_ && BatchApi::Handles(req)) return batches_->Route(req);
  return Admin(req);
}

HttpOut FakeServer::Admin(HttpIn& req) {
  const bool get = req.method == "GET", post = req.method == "POST";
  HttpOut res;
  if (get && req.path == "/v1/models") {
    const FakeConfig c = Config();
    json model = {{"id", "fakellm"}, {"object", "model"}, {"owned_by", "fakellm"}};
    if (c.context_tokens > 0) model["max_model_len"] = c.context_tokens;
    res.body = json{{"object", "list"}, {"data", json::array({model})}}.dump();
  } else if (get && req.path == "/stats") {
    res.body = StatsJson().dump();
  } else if (get && req.path == "/admin/config") {
    res.body = ConfigToJson(Config()).dump();
  } else if (post && req.path == "/admin/config") {
    json patch = json::parse(req.body, nullptr, false);
    std::lock_guard<std::mutex> lock(mu_);
    Status s = PatchConfig(patch, &config_);
    res.status = s.ok() ? 200 : 400;
    res.body = s.ok() ? ConfigToJson(config_).dump() : json{{"error", s.message()}}.dump();
  } else if (post && req.path == "/admin/reset-stats") {
    std::lock_guard<std::mutex> lock(mu_);
    stats_ = Stats{};
    res.body = "{}";
  } else {
    res.status = 404;
    res.body = json{{"error", "no route " + req.method + " " + req.path}}.dump();
  }
  return res;
}

void FakeServer::Serve() {
  if (http_) http_->Serve();
}

}  // namespace codesweep::fakellm
