#include "jobs/llm/probe.h"

#include <nlohmann/json.hpp>

#include "jobs/llm/http.h"
#include "jobs/llm/provider_options.h"
#include "jobs/llm/wire_format.h"

namespace codesweep {
namespace {

using nlohmann::json;

constexpr int64_t kProbeTimeoutMs = 30'000;

LlmRequest TinyRequest(bool with_tools) {
  LlmRequest r;
  r.messages.push_back(ChatMessage{.role = "user", .content = "Reply with the word OK."});
  r.gen.max_tokens = 16;
  if (with_tools) {
    r.tools.push_back(ToolSpec{"python", "Runs Python code and returns its output.",
                               R"({"type":"object","properties":{"code":{"type":"string"}},)"
                               R"("required":["code"]})"});
  }
  return r;
}

// The context length in one entry of a /models list, under the names servers use for it.
std::optional<int64_t> ContextField(const json& entry) {
  for (const char* name : {"max_model_len", "context_length", "context_window"}) {
    if (entry.contains(name) && entry[name].is_number_integer()) return entry[name].get<int64_t>();
  }
  if (entry.contains("meta") && entry["meta"].is_object()) return ContextField(entry["meta"]);
  if (entry.contains("n_ctx_train") && entry["n_ctx_train"].is_number_integer()) {
    return entry["n_ctx_train"].get<int64_t>();  // llama.cpp, under "meta"
  }
  return std::nullopt;
}

std::optional<int64_t> ContextFromModels(const std::string& body, const std::string& model) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("data") || !j["data"].is_array()) return std::nullopt;
  const json& data = j["data"];
  for (const json& e : data) {
    if (e.is_object() && e.value("id", "") == model) return ContextField(e);
  }
  if (data.size() == 1 && data[0].is_object()) return ContextField(data[0]);  // one-model server
  return std::nullopt;
}

HttpRequest BaseRequest(const ProviderOptions& o, const std::string& key) {
  HttpRequest req;
  req.connect_timeout_ms = o.connect_timeout_ms;
  req.timeout_ms = std::min(o.timeout_ms, kProbeTimeoutMs);
  req.headers = {{"Content-Type", "application/json"}};
  if (o.format == WireFormat::kAnthropic)
    req.headers.emplace_back("anthropic-version", o.anthropic_version);
  for (const auto& kv : o.headers) req.headers.push_back(kv);
  if (!key.empty()) {
    const bool openai = o.format == WireFormat::kOpenAi;
    req.headers.emplace_back(openai ? "Authorization" : "x-api-key",
                             openai ? "Bearer " + key : key);
  }
  return req;
}

void Judge(const HttpResponse& http, const ProviderOptions& o, bool key_sent, bool with_tools,
           const std::string& key, ProbeReport* out) {
  out->reachable = true;
  out->http_status = http.status;
  const bool ok = http.status >= 200 && http.status < 300;
  if (http.status == 401 || http.status == 403) {
    out->auth = "refused";
  } else if (ok || http.status == 404 || http.status == 429) {
    out->auth = key_sent ? "ok" : "none sent";
  }
  if (ok) {
    Result<LlmResponse> parsed = ParseResponseBody(o.format, http.body);
    if (!parsed.ok()) out->error = RedactSecrets(parsed.status().message(), key);
    if (with_tools) out->tools = parsed.ok();
    return;
  }
  out->error = RedactSecrets(ExtractErrorMessage(http.body), key);
  // Only the request's own refusal says anything about tools (not auth, a missing model, 429).
  const bool says_nothing = http.status == 401 || http.status == 403 || http.status == 404 ||
                            http.status == 429 || http.status == 502 || http.status == 503;
  if (with_tools && !says_nothing) out->tools = false;
}

}  // namespace

Result<ProbeReport> ProbeModel(const ModelSpec& model, bool with_tools, const ProviderEnv& env) {
  CS_ASSIGN_OR_RETURN(ProviderOptions o, ParseProviderOptions(model));
  ProbeReport out;
  out.auth = "unknown";
  std::string key;
  if (!o.api_key_env.empty()) {
    std::optional<std::string> k = env.get_secret ? env.get_secret(o.api_key_env) : std::nullopt;
    if (k && !k->empty()) {
      key = *k;
    } else {
      out.warnings.push_back("api_key_env " + o.api_key_env +
                             " is not set: the probe went without a key, and a run would fail");
    }
  }
  with_tools = with_tools && o.capabilities.tools;
  std::shared_ptr<HttpEngine> http = env.http;
  if (!http) {
    CS_ASSIGN_OR_RETURN(http, MakeHttpEngine());
  }
  if (o.format == WireFormat::kOpenAi) {
    HttpRequest models = BaseRequest(o, key);
    models.method = "GET";
    models.url = o.base_url + "/models";
    Result<HttpResponse> r = http->Send(std::move(models));
    if (r.ok() && r->status == 200) out.context_tokens = ContextFromModels(r->body, model.name);
  }
  CS_ASSIGN_OR_RETURN(std::string body,
                      BuildRequestBody(o.format, model.name, TinyRequest(with_tools), o));
  HttpRequest req = BaseRequest(o, key);
  req.url = o.base_url + (o.format == WireFormat::kOpenAi ? "/chat/completions" : "/v1/messages");
  req.body = std::move(body);
  out.requests = 1;
  Result<HttpResponse> r = http->Send(std::move(req));
  if (!r.ok()) {
    out.error = RedactSecrets(r.status().message(), key);
    return out;
  }
  Judge(*r, o, !key.empty(), with_tools, key, &out);
  return out;
}

}  // namespace codesweep
