// Canonical request JSON, call keys and the normalized response <-> JSON mapping.
#include "jobs/llm/llm_client.h"

#include <nlohmann/json.hpp>
#include <set>
#include <string_view>

#include "base/hash.h"
#include "base/json_depth.h"

namespace codesweep {
namespace {

using nlohmann::json;

// Embeds a JSON text as a value when it parses (so its field order does not matter), else as the
// raw string (also when nested past kMaxJsonDepth, so dumping it cannot recurse without bound).
json EmbedJsonText(const std::string& text) {
  if (JsonTooDeep(text)) return json(text);
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return json(text);
  return parsed;
}

json ToolCallsJson(const std::vector<ToolCall>& calls) {
  json out = json::array();
  for (const ToolCall& c : calls) {
    out.push_back({{"id", c.id}, {"name", c.name}, {"arguments", EmbedJsonText(c.arguments_json)}});
  }
  return out;
}

json MessageJson(const ChatMessage& m) {
  json out = {{"role", m.role}, {"content", m.content}};
  if (!m.tool_calls.empty()) out["tool_calls"] = ToolCallsJson(m.tool_calls);
  if (!m.tool_call_id.empty()) out["tool_call_id"] = m.tool_call_id;
  if (!m.name.empty()) out["name"] = m.name;
  return out;
}

json GenJson(const GenSettings& g) {
  json out = {{"temperature", g.temperature},
              {"top_p", g.top_p},
              {"max_tokens", g.max_tokens},
              {"stop", g.stop}};
  if (g.seed.has_value()) out["seed"] = *g.seed;
  return out;
}

json CanonicalRequestValue(const LlmRequest& request) {
  json messages = json::array();
  for (const ChatMessage& m : request.messages) messages.push_back(MessageJson(m));
  json tools = json::array();
  for (const ToolSpec& t : request.tools) {
    tools.push_back({{"name", t.name},
                     {"description", t.description},
                     {"parameters", EmbedJsonText(t.parameters_json)}});
  }
  return {{"messages", std::move(messages)},
          {"tools", std::move(tools)},
          {"gen", GenJson(request.gen)},
          {"draw", request.draw}};
}

json OutputOptions(const std::string& options_json) {
  json options = EmbedJsonText(options_json);
  if (!options.is_object()) return options;
  json out = json::object();
  for (auto it = options.begin(); it != options.end(); ++it) {
    if (!NonOutputOptionKeys().contains(it.key())) out[it.key()] = it.value();
  }
  return out;
}

// Dumps with invalid UTF-8 replaced, so bytes from a model never throw.
std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

template <typename T>
Status ReadField(const json& obj, std::string_view key, T* out) {
  auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) return Status::OK();
  try {
    *out = it->get<T>();
  } catch (const json::exception&) {
    return Status::InvalidArgument("response json: field '" + std::string(key) +
                                   "' has the wrong type");
  }
  return Status::OK();
}

Result<std::vector<ToolCall>> ReadToolCalls(const json& obj) {
  std::vector<ToolCall> calls;
  auto it = obj.find("tool_calls");
  if (it == obj.end() || it->is_null()) return calls;
  if (!it->is_array()) return Status::InvalidArgument("response json: tool_calls is not an array");
  for (const json& c : *it) {
    if (!c.is_object()) return Status::InvalidArgument("response json: tool call is not an object");
    ToolCall call;
    CS_RETURN_IF_ERROR(ReadField(c, "id", &call.id));
    CS_RETURN_IF_ERROR(ReadField(c, "name", &call.name));
    CS_RETURN_IF_ERROR(ReadField(c, "arguments", &call.arguments_json));
    calls.push_back(std::move(call));
  }
  return calls;
}

Status ReadUsage(const json& obj, LlmUsage* usage) {
  auto it = obj.find("usage");
  if (it == obj.end() || it->is_null()) return Status::OK();
  if (!it->is_object()) return Status::InvalidArgument("response json: usage is not an object");
  CS_RETURN_IF_ERROR(ReadField(*it, "input_tokens", &usage->input_tokens));
  CS_RETURN_IF_ERROR(ReadField(*it, "cached_input_tokens", &usage->cached_input_tokens));
  CS_RETURN_IF_ERROR(ReadField(*it, "output_tokens", &usage->output_tokens));
  return ReadField(*it, "estimated", &usage->estimated);
}

}  // namespace

const std::set<std::string, std::less<>>& NonOutputOptionKeys() {
  static const std::set<std::string, std::less<>> kKeys = {"base_url",
                                                           "api_key_env",
                                                           "key_alias",
                                                           "headers",
                                                           "timeouts",
                                                           "timeout_ms",
                                                           "connect_timeout_ms",
                                                           "retry",
                                                           "max_attempts",
                                                           "price",
                                                           "latency_ms",
                                                           "cell_context_header",
                                                           "latency_jitter_ms",
                                                           "batch",
                                                           "batch_max_requests",
                                                           "batch_max_bytes",
                                                           "batch_flush_s",
                                                           "batch_poll_s",
                                                           "batch_max_enqueued_tokens"};
  return kKeys;
}

std::string CanonicalRequestJson(const LlmRequest& request) {
  return Dump(CanonicalRequestValue(request));
}

CallKey ComputeCallKey(const ModelSpec& model, const LlmRequest& request) {
  json identity = {{"provider", model.provider},
                   {"model", model.name},
                   {"options", OutputOptions(model.options_json)},
                   {"request", CanonicalRequestValue(request)}};
  return CallKey(Sha256Hex(Dump(identity)));
}

std::string ResponseToJson(const LlmResponse& r) {
  json calls = json::array();
  for (const ToolCall& c : r.tool_calls) {
    calls.push_back({{"id", c.id}, {"name", c.name}, {"arguments", c.arguments_json}});
  }
  json out = {{"content", r.content},
              {"tool_calls", std::move(calls)},
              {"finish_reason", r.finish_reason},
              {"usage",
               {{"input_tokens", r.usage.input_tokens},
                {"cached_input_tokens", r.usage.cached_input_tokens},
                {"output_tokens", r.usage.output_tokens},
                {"estimated", r.usage.estimated}}},
              {"http_status", r.http_status},
              {"latency_ms", r.latency_ms},
              {"attempts", r.attempts},
              {"rate_limited", r.rate_limited},
              {"cost_usd", r.cost_usd},
              {"cached", r.cached}};
  if (r.batch) out["batch"] = true;  // only then, so other responses keep their bytes
  return Dump(out);
}

Result<LlmResponse> ResponseFromJson(const std::string& text) {
  json obj = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded()) return Status::InvalidArgument("response json: not valid JSON");
  if (!obj.is_object()) return Status::InvalidArgument("response json: not an object");
  LlmResponse r;
  CS_RETURN_IF_ERROR(ReadField(obj, "content", &r.content));
  CS_ASSIGN_OR_RETURN(r.tool_calls, ReadToolCalls(obj));
  CS_RETURN_IF_ERROR(ReadField(obj, "finish_reason", &r.finish_reason));
  CS_RETURN_IF_ERROR(ReadUsage(obj, &r.usage));
  CS_RETURN_IF_ERROR(ReadField(obj, "http_status", &r.http_status));
  CS_RETURN_IF_ERROR(ReadField(obj, "latency_ms", &r.latency_ms));
  CS_RETURN_IF_ERROR(ReadField(obj, "attempts", &r.attempts));
  CS_RETURN_IF_ERROR(ReadField(obj, "rate_limited", &r.rate_limited));
  CS_RETURN_IF_ERROR(ReadField(obj, "cost_usd", &r.cost_usd));
  CS_RETURN_IF_ERROR(ReadField(obj, "cached", &r.cached));
  CS_RETURN_IF_ERROR(ReadField(obj, "batch", &r.batch));
  return r;
}

namespace {
constexpr std::string_view kParkedText = "parked: waiting for a provider batch";
}  // namespace

Status ParkedStatus(const std::string& call_key) {
  return Status::FailedPrecondition(std::string(kParkedText) + " (call " + call_key + ")");
}

bool IsParked(const Status& status) {
  return status.code() == StatusCode::kFailedPrecondition &&
         status.message().find(kParkedText) != std::string::npos;
}

bool PromptLooksTruncated(const LlmRequest& request, const LlmUsage& usage) {
  if (usage.estimated || usage.input_tokens <= 0) return false;
  int64_t bytes = 0;
  for (const ChatMessage& m : request.messages) {
    bytes += static_cast<int64_t>(m.content.size());
    for (const ToolCall& c : m.tool_calls) bytes += static_cast<int64_t>(c.arguments_json.size());
  }
  const int64_t at_least = bytes / kMaxPromptBytesPerToken;
  return at_least >= kMinTruncatedPromptTokens && usage.input_tokens < at_least;
}

}  // namespace codesweep
