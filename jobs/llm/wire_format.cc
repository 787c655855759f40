// OpenAI Chat Completions and Anthropic Messages request/response translation.
#include "jobs/llm/wire_format.h"

#include <nlohmann/json.hpp>
#include <regex>

#include "base/json_depth.h"
#include "base/log.h"
#include "base/utf8.h"

namespace codesweep {
namespace {

using nlohmann::json;

std::string Dump(const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); }

// Model-written JSON (tool arguments) nested past kMaxJsonDepth counts as unparseable.
json ParseOr(const std::string& text, json fallback) {
  if (JsonTooDeep(text)) return fallback;
  json v = json::parse(text, nullptr, false);
  return v.is_discarded() ? fallback : v;
}

GenSettings EffectiveGen(const LlmRequest& request, const ProviderOptions& o) {
  GenSettings g = request.gen;
  if (o.temperature) g.temperature = *o.temperature;
  if (o.top_p) g.top_p = *o.top_p;
  if (o.max_tokens) g.max_tokens = *o.max_tokens;
  if (o.seed) g.seed = *o.seed;
  if (o.stop) g.stop = *o.stop;
  return g;
}

// Applies "no system role": system text goes in front of the first user message.
std::vector<ChatMessage> ApplySystemRule(const LlmRequest& request, bool system_ok) {
  if (system_ok) return request.messages;
  std::string system;
  std::vector<ChatMessage> out;
  for (const ChatMessage& m : request.messages) {
    if (m.role == "system") {
      if (!m.content.empty()) system += (system.empty() ? "" : "\n\n") + m.content;
    } else {
      out.push_back(m);
    }
  }
  if (system.empty()) return out;
  for (ChatMessage& m : out) {
    if (m.role == "user") {
      m.content = system + "\n\n" + m.content;
      return out;
    }
  }
  out.insert(out.begin(), ChatMessage{.role = "user", .content = system});
  return out;
}

void MergeExtraBody(const ProviderOptions& o, json* body) {
  if (o.extra_body_json.empty()) return;
  json extra = ParseOr(o.extra_body_json, json::object());
  for (auto it = extra.begin(); it != extra.end(); ++it) (*body)[it.key()] = it.value();
}

json OpenAiMessage(const ChatMessage& m) {
  json out = {{"role", m.role}};
  if (m.role == "assistant" && !m.tool_calls.empty()) {
    out["content"] = m.content.empty() ? json(nullptr) : json(m.content);
    json calls = json::array();
    for (const ToolCall& c : m.tool_calls) {
      calls.push_back({{"id", c.id},
                       {"type", "function"},
                       {"function", {{"name", c.name}, {"arguments", c.arguments_json}}}});
    }
    out["tool_calls"] = std::move(calls);
    return out;
  }
  out["content"] = m.content;
  if (m.role == "tool") out["tool_call_id"] = m.tool_call_id;
  if (m.role == "tool" && !m.name.empty()) out["name"] = m.name;
  return out;
}

Result<std::string> BuildOpenAi(const std::string& model, const LlmRequest& request,
                                const ProviderOptions& o) {
  const GenSettings g = EffectiveGen(request, o);
  json messages = json::array();
  for (const ChatMessage& m : ApplySystemRule(request, o.capabilities.system_message)) {
    messages.push_back(OpenAiMessage(m));
  }
  json body = {{"model", model}, {"messages", std::move(messages)}};
  if (o.capabilities.temperature) {
    body["temperature"] = g.temperature;
    body["top_p"] = g.top_p;
  }
  body[UsesMaxCompletionTokens(model) ? "max_completion_tokens" : "max_tokens"] = g.max_tokens;
  if (g.seed) body["seed"] = *g.seed;
  if (!g.stop.empty()) body["stop"] = g.stop;
  if (!request.tools.empty()) {
    json tools = json::array();
    for (const ToolSpec& t : request.tools) {
      tools.push_back({{"type", "function"},
                       {"function",
                        {{"name", t.name},
                         {"description", t.description},
                         {"parameters", ParseOr(t.parameters_json, json::object())}}}});
    }
    body["tools"] = std::move(tools);
  }
  MergeExtraBody(o, &body);
  return Dump(body);
}

// Anthropic wants alternating user/assistant turns: consecutive same-role blocks are merged.
void AppendAnthropic(json* messages, const std::string& role, json blocks) {
  if (!messages->empty() && messages->back()["role"] == role) {
    for (json& b : blocks) messages->back()["content"].push_back(std::move(b));
    return;
  }
  messages->push_back({{"role", role}, {"content", std::move(blocks)}});
}

json AnthropicBlocks(const ChatMessage& m) {
  json blocks = json::array();
  if (m.role == "tool") {
    blocks.push_back(
        {{"type", "tool_result"}, {"tool_use_id", m.tool_call_id}, {"content", m.content}});
    return blocks;
  }
  if (!m.content.empty()) blocks.push_back({{"type", "text"}, {"text", m.content}});
  for (const ToolCall& c : m.tool_calls) {
    blocks.push_back({{"type", "tool_use"},
                      {"id", c.id},
                      {"name", c.name},
                      {"input", ParseOr(c.arguments_json, json::object())}});
  }
  return blocks;
}

Result<std::string> BuildAnthropic(const std::string& model, const LlmRequest& request,
                                   const ProviderOptions& o) {
  const GenSettings g = EffectiveGen(request, o);
  std::string system;
  json messages = json::array();
  for (const ChatMessage& m : ApplySystemRule(request, o.capabilities.system_message)) {
    if (m.role == "system") {
      system += (system.empty() ? "" : "\n\n") + m.content;
      continue;
    }
    json blocks = AnthropicBlocks(m);
    if (blocks.empty()) blocks.push_back({{"type", "text"}, {"text", ""}});
    AppendAnthropic(&messages, m.role == "assistant" ? "assistant" : "user", std::move(blocks));
  }
  json body = {{"model", model}, {"max_tokens", g.max_tokens}, {"messages", std::move(messages)}};
  if (!system.empty()) body["system"] = system;
  if (o.capabilities.temperature) {
    body["temperature"] = g.temperature;
    if (g.top_p != 1.0) body["top_p"] = g.top_p;
  }
  if (!g.stop.empty()) body["stop_sequences"] = g.stop;
  if (!request.tools.empty()) {
    json tools = json::array();
    for (const ToolSpec& t : request.tools) {
      tools.push_back({{"name", t.name},
                       {"description", t.description},
                       {"input_schema", ParseOr(t.parameters_json, json::object())}});
    }
    body["tools"] = std::move(tools);
  }
  MergeExtraBody(o, &body);
  return Dump(body);
}

std::string StringOr(const json& obj, const char* key, std::string fallback = "") {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : fallback;
}

int64_t IntOr(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_number() ? it->get<int64_t>() : 0;
}

LlmResponse ParseOpenAiResponse(const json& body) {
  const json& choice = body.at("choices").at(0);
  const json& message = choice.at("message");
  if (!message.is_object())
    throw json::type_error::create(302, "message is not an object", nullptr);
  LlmResponse r;
  r.content = StringOr(message, "content");
  if (auto it = message.find("tool_calls"); it != message.end() && it->is_array()) {
    for (const json& c : *it) {
      const json& f = c.at("function");
      r.tool_calls.push_back({StringOr(c, "id"), StringOr(f, "name"), StringOr(f, "arguments")});
    }
  }
  r.finish_reason = StringOr(choice, "finish_reason", "stop");
  if (auto u = body.find("usage"); u != body.end() && u->is_object()) {
    r.usage.input_tokens = IntOr(*u, "prompt_tokens");
    r.usage.output_tokens = IntOr(*u, "completion_tokens");
    if (auto d = u->find("prompt_tokens_details"); d != u->end() && d->is_object()) {
      r.usage.cached_input_tokens = IntOr(*d, "cached_tokens");
    }
  } else {
    r.usage.estimated = true;
  }
  return r;
}

std::string AnthropicFinish(const std::string& stop_reason) {
  if (stop_reason == "max_tokens") return "length";
  if (stop_reason == "tool_use") return "tool_calls";
  return "stop";
}

LlmResponse ParseAnthropicResponse(const json& body) {
  LlmResponse r;
  const json& blocks = body.at("content");
  if (!blocks.is_array()) throw json::type_error::create(302, "content is not an array", nullptr);
  for (const json& block : blocks) {
    const std::string type = StringOr(block, "type");
    if (type == "text") r.content += StringOr(block, "text");
    if (type == "tool_use") {
      r.tool_calls.push_back({StringOr(block, "id"), StringOr(block, "name"),
                              Dump(block.contains("input") ? block["input"] : json::object())});
    }
  }
  r.finish_reason = AnthropicFinish(StringOr(body, "stop_reason"));
  if (auto u = body.find("usage"); u != body.end() && u->is_object()) {
    const int64_t cache_read = IntOr(*u, "cache_read_input_tokens");
    r.usage.input_tokens =
        IntOr(*u, "input_tokens") + cache_read + IntOr(*u, "cache_creation_input_tokens");
    r.usage.cached_input_tokens = cache_read;
    r.usage.output_tokens = IntOr(*u, "output_tokens");
  } else {
    r.usage.estimated = true;
  }
  return r;
}

}  // namespace

Result<std::string> BuildRequestBody(WireFormat format, const std::string& model_name,
                                     const LlmRequest& request, const ProviderOptions& options) {
  if (!request.tools.empty() && !options.capabilities.tools) {
    return Status::InvalidArgument("model " + model_name + " does not support tool calling");
  }
  return format == WireFormat::kOpenAi ? BuildOpenAi(model_name, request, options)
                                       : BuildAnthropic(model_name, request, options);
}

Result<LlmResponse> ParseResponseBody(WireFormat format, const std::string& text) {
  if (JsonTooDeep(text)) {
    return Status::InvalidArgument(
        Str("response body is nested deeper than ", kMaxJsonDepth, " levels"));
  }
  json body = json::parse(text, nullptr, false);
  if (body.is_discarded()) {
    return Status::InvalidArgument(
        Str("response body is not valid JSON (", text.size(), " bytes, possibly truncated)"));
  }
  try {
    return format == WireFormat::kOpenAi ? ParseOpenAiResponse(body) : ParseAnthropicResponse(body);
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("response body has an unexpected shape: ") +
                                   e.what());
  }
}

std::string ExtractErrorMessage(const std::string& text) {
  if (JsonTooDeep(text)) return text.substr(0, 300);
  json body = json::parse(text, nullptr, false);
  if (!body.is_discarded() && body.is_object()) {
    auto e = body.find("error");
    if (e != body.end() && e->is_object()) {
      std::string msg = StringOr(*e, "message");
      if (!msg.empty()) return TruncateUtf8(msg, 1000, "");
    }
    if (e != body.end() && e->is_string()) return TruncateUtf8(e->get<std::string>(), 1000, "");
  }
  return TruncateUtf8(text, 300, "");
}

std::string RedactSecrets(std::string text, const std::string& secret) {
  if (secret.size() >= 8) {
    for (size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos)) {
      text.replace(pos, secret.size(), "[REDACTED]");
    }
  }
  static const std::regex kKeyShape("(sk-|sk_|key-)[A-Za-z0-9_\\-*]{6,}");
  return std::regex_replace(text, kKeyShape, "[REDACTED]");
}

}  // namespace codesweep
