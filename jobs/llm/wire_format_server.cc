// The server side of the wire formats (used by fakellm): request bodies in, response bodies out.
#include <nlohmann/json.hpp>

#include "base/json_depth.h"
#include "jobs/llm/wire_format.h"

namespace codesweep {
namespace {

using nlohmann::json;

std::string Dump(const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string StringOr(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

// Content that is a string, null, or an array of {"type":"text","text":...} parts.
std::string TextOf(const json& content) {
  if (content.is_string()) return content.get<std::string>();
  std::string out;
  if (!content.is_array()) return out;
  for (const json& part : content) {
    if (part.is_object() && StringOr(part, "type") == "text") out += StringOr(part, "text");
  }
  return out;
}

std::vector<std::string> StopOf(const json& v) {
  if (v.is_string()) return {v.get<std::string>()};
  if (v.is_array()) return v.get<std::vector<std::string>>();
  return {};
}

void ReadGen(const json& body, LlmRequest* r) {
  if (body.contains("temperature")) r->gen.temperature = body["temperature"].get<double>();
  if (body.contains("top_p")) r->gen.top_p = body["top_p"].get<double>();
  if (body.contains("max_tokens")) r->gen.max_tokens = body["max_tokens"].get<int>();
  if (body.contains("max_completion_tokens")) {
    r->gen.max_tokens = body["max_completion_tokens"].get<int>();
  }
  if (body.contains("seed") && !body["seed"].is_null()) r->gen.seed = body["seed"].get<int64_t>();
  if (body.contains("stop")) r->gen.stop = StopOf(body["stop"]);
  if (body.contains("stop_sequences")) r->gen.stop = StopOf(body["stop_sequences"]);
}

LlmRequest ParseOpenAiRequest(const json& body) {
  LlmRequest r;
  for (const json& m : body.at("messages")) {
    ChatMessage msg{.role = m.at("role").get<std::string>(),
                    .content = m.contains("content") ? TextOf(m["content"]) : ""};
    if (auto it = m.find("tool_calls"); it != m.end() && it->is_array()) {
      for (const json& c : *it) {
        const json& f = c.at("function");
        msg.tool_calls.push_back(
            {StringOr(c, "id"), StringOr(f, "name"), StringOr(f, "arguments")});
      }
    }
    msg.tool_call_id = StringOr(m, "tool_call_id");
    msg.name = StringOr(m, "name");
    r.messages.push_back(std::move(msg));
  }
  if (auto it = body.find("tools"); it != body.end() && it->is_array()) {
    for (const json& t : *it) {
      const json& f = t.at("function");
      r.tools.push_back({StringOr(f, "name"), StringOr(f, "description"),
                         Dump(f.contains("parameters") ? f["parameters"] : json::object())});
    }
  }
  ReadGen(body, &r);
  return r;
}

void ParseAnthropicMessage(const json& m, LlmRequest* r) {
  const std::string role = m.at("role").get<std::string>();
  const json& content = m.at("content");
  if (content.is_string()) {
    r->messages.push_back({.role = role, .content = content.get<std::string>()});
    return;
  }
  ChatMessage msg{.role = role};
  for (const json& b : content) {
    const std::string type = StringOr(b, "type");
    if (type == "text") msg.content += StringOr(b, "text");
    if (type == "tool_use") {
      msg.tool_calls.push_back({StringOr(b, "id"), StringOr(b, "name"),
                                Dump(b.contains("input") ? b["input"] : json::object())});
    }
    if (type == "tool_result") {
      r->messages.push_back({.role = "tool",
                             .content = b.contains("content") ? TextOf(b["content"]) : "",
                             .tool_call_id = StringOr(b, "tool_use_id")});
    }
  }
  if (!msg.content.empty() || !msg.tool_calls.empty()) r->messages.push_back(std::move(msg));
}

LlmRequest ParseAnthropicRequest(const json& body) {
  LlmRequest r;
  if (body.contains("system")) {
    r.messages.push_back({.role = "system", .content = TextOf(body["system"])});
  }
  for (const json& m : body.at("messages")) ParseAnthropicMessage(m, &r);
  if (auto it = body.find("tools"); it != body.end() && it->is_array()) {
    for (const json& t : *it) {
      r.tools.push_back({StringOr(t, "name"), StringOr(t, "description"),
                         Dump(t.contains("input_schema") ? t["input_schema"] : json::object())});
    }
  }
  ReadGen(body, &r);
  return r;
}

json ArgumentsObject(const std::string& arguments) {
  if (JsonTooDeep(arguments)) return json::object();
  json v = json::parse(arguments, nullptr, false);
  return v.is_discarded() ? json::object() : v;
}

std::string OpenAiResponse(const std::string& model, const LlmResponse& r, const std::string& id) {
  json message = {
      {"role", "assistant"},
      {"content", r.content.empty() && !r.tool_calls.empty() ? json(nullptr) : json(r.content)}};
  if (!r.tool_calls.empty()) {
    json calls = json::array();
    for (const ToolCall& c : r.tool_calls) {
      calls.push_back({{"id", c.id},
                       {"type", "function"},
                       {"function", {{"name", c.name}, {"arguments", c.arguments_json}}}});
    }
    message["tool_calls"] = std::move(calls);
  }
  json body = {
      {"id", id},
      {"object", "chat.completion"},
      {"created", 0},
      {"model", model},
      {"choices",
       json::array({{{"index", 0}, {"message", message}, {"finish_reason", r.finish_reason}}})},
      {"usage",
       {{"prompt_tokens", r.usage.input_tokens},
        {"completion_tokens", r.usage.output_tokens},
        {"total_tokens", r.usage.input_tokens + r.usage.output_tokens},
        {"prompt_tokens_details", {{"cached_tokens", r.usage.cached_input_tokens}}}}}};
  return Dump(body);
}

std::string AnthropicResponse(const std::string& model, const LlmResponse& r,
                              const std::string& id) {
  json content = json::array();
  if (!r.content.empty() || r.tool_calls.empty()) {
    content.push_back({{"type", "text"}, {"text", r.content}});
  }
  for (const ToolCall& c : r.tool_calls) {
    content.push_back({{"type", "tool_use"},
                       {"id", c.id},
                       {"name", c.name},
                       {"input", ArgumentsObject(c.arguments_json)}});
  }
  const std::string stop = r.finish_reason == "length"       ? "max_tokens"
                           : r.finish_reason == "tool_calls" ? "tool_use"
                                                             : "end_turn";
  json body = {{"id", id},
               {"type", "message"},
               {"role", "assistant"},
               {"model", model},
               {"content", std::move(content)},
               {"stop_reason", stop},
               {"stop_sequence", nullptr},
               {"usage",
                {{"input_tokens", r.usage.input_tokens - r.usage.cached_input_tokens},
                 {"cache_read_input_tokens", r.usage.cached_input_tokens},
                 {"output_tokens", r.usage.output_tokens}}}};
  return Dump(body);
}

}  // namespace

Result<LlmRequest> ParseRequestBody(WireFormat format, const std::string& text,
                                    std::string* model_name) {
  if (JsonTooDeep(text)) {
    return Status::InvalidArgument("request body is nested deeper than " +
                                   std::to_string(kMaxJsonDepth) + " levels");
  }
  json body = json::parse(text, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return Status::InvalidArgument("request body is not a JSON object");
  }
  try {
    *model_name = StringOr(body, "model");
    if (model_name->empty()) return Status::InvalidArgument("request has no model");
    return format == WireFormat::kOpenAi ? ParseOpenAiRequest(body) : ParseAnthropicRequest(body);
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("request body has an unexpected shape: ") +
                                   e.what());
  }
}

std::string BuildResponseBody(WireFormat format, const std::string& model_name,
                              const LlmResponse& response, const std::string& response_id) {
  return format == WireFormat::kOpenAi ? OpenAiResponse(model_name, response, response_id)
                                       : AnthropicResponse(model_name, response, response_id);
}

namespace {

const char* OpenAiErrorType(int http_status) {
  if (http_status == 429) return "requests";
  return http_status >= 500 ? "server_error" : "invalid_request_error";
}

const char* AnthropicErrorType(int http_status) {
  switch (http_status) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 529:
      return "overloaded_error";
    default:
      return http_status >= 500 ? "api_error" : "invalid_request_error";
  }
}

}  // namespace

std::string BuildErrorBody(WireFormat format, int http_status, const std::string& code,
                           const std::string& message) {
  if (format == WireFormat::kOpenAi) {
    nlohmann::json c = code.empty() ? nlohmann::json(nullptr) : nlohmann::json(code);
    return Dump({{"error",
                  {{"message", message},
                   {"type", OpenAiErrorType(http_status)},
                   {"param", nullptr},
                   {"code", c}}}});
  }
  return Dump({{"type", "error"},
               {"error", {{"type", AnthropicErrorType(http_status)}, {"message", message}}}});
}

}  // namespace codesweep
