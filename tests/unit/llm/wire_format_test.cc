// Unit tests for request building, response parsing (both formats, tool calls), options,
// capabilities, prices and redaction.
#include "jobs/llm/wire_format.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "jobs/llm/providers.h"

namespace codesweep {
namespace {

using nlohmann::json;

ModelSpec Spec(std::string provider, std::string name, std::string options = "{}") {
  return {provider + ":" + name, provider, name, std::move(options)};
}

ProviderOptions Options(const ModelSpec& spec) {
  Result<ProviderOptions> o = ParseProviderOptions(spec);
  EXPECT_TRUE(o.ok()) << o.status().ToString();
  return o.ok() ? *o : ProviderOptions{};
}

LlmRequest ToolConversation() {
  LlmRequest r;
  r.messages = {{.role = "system", .content = "You are terse."},
                {.role = "user", .content = "Compute 6*7."}};
  ChatMessage a{.role = "assistant", .content = "Let me run code."};
  a.tool_calls.push_back({"call_1", "python", R"J({"code":"print(6*7)"})J"});
  r.messages.push_back(a);
  r.messages.push_back(
      {.role = "tool", .content = "42", .tool_call_id = "call_1", .name = "python"});
  r.tools.push_back({"python", "Run code", R"({"type":"object"})"});
  r.gen.temperature = 0.2;
  r.gen.max_tokens = 300;
  r.gen.stop = {"END"};
  r.gen.seed = 5;
  return r;
}

TEST(OpenAiRequest, Shape) {
  ModelSpec spec = Spec("openai", "gpt-4o");
  Result<std::string> body =
      BuildRequestBody(WireFormat::kOpenAi, "gpt-4o", ToolConversation(), Options(spec));
  ASSERT_TRUE(body.ok());
  json b = json::parse(*body);
  EXPECT_EQ(b["model"], "gpt-4o");
  EXPECT_EQ(b["messages"].size(), 4u);
  EXPECT_EQ(b["messages"][0]["role"], "system");
  EXPECT_EQ(b["messages"][2]["tool_calls"][0]["function"]["arguments"],
            R"J({"code":"print(6*7)"})J");
  EXPECT_EQ(b["messages"][3]["tool_call_id"], "call_1");
  EXPECT_EQ(b["tools"][0]["function"]["parameters"]["type"], "object");
  EXPECT_DOUBLE_EQ(b["temperature"].get<double>(), 0.2);
  EXPECT_EQ(b["max_tokens"], 300);
  EXPECT_EQ(b["seed"], 5);
  EXPECT_EQ(b["stop"][0], "END");
}

TEST(OpenAiRequest, ReasoningModelRules) {
  ModelSpec spec = Spec("openai", "o1-preview");
  LlmRequest r = ToolConversation();
  EXPECT_FALSE(BuildRequestBody(WireFormat::kOpenAi, "o1-preview", r, Options(spec)).ok());
  r.tools.clear();
  json b = json::parse(*BuildRequestBody(WireFormat::kOpenAi, "o1-preview", r, Options(spec)));
  EXPECT_FALSE(b.contains("temperature"));
  EXPECT_FALSE(b.contains("top_p"));
  EXPECT_EQ(b["max_completion_tokens"], 300);
  EXPECT_EQ(b["messages"][0]["role"], "user");
  EXPECT_EQ(b["messages"][0]["content"], "You are terse.\n\nCompute 6*7.");
  EXPECT_TRUE(ProviderCapabilities(Spec("openai", "o3-mini")).tools);
  EXPECT_FALSE(ProviderCapabilities(Spec("openai", "o3-mini")).temperature);
  EXPECT_TRUE(ProviderCapabilities(Spec("openai", "gpt-4o")).system_message);
  EXPECT_FALSE(
      ProviderCapabilities(Spec("openai", "local", R"({"capabilities":{"system_message":false}})"))
          .system_message);
}

TEST(OpenAiRequest, OptionsOverrideGen) {
  ModelSpec spec =
      Spec("openai", "gpt-4o", R"({"temperature":1.0,"max_tokens":5,"extra_body":{"top_k":3}})");
  json b = json::parse(
      *BuildRequestBody(WireFormat::kOpenAi, "gpt-4o", ToolConversation(), Options(spec)));
  EXPECT_DOUBLE_EQ(b["temperature"].get<double>(), 1.0);
  EXPECT_EQ(b["max_tokens"], 5);
  EXPECT_EQ(b["top_k"], 3);
}

TEST(AnthropicRequest, Shape) {
  ModelSpec spec = Spec("anthropic", "claude-3-5-sonnet-20241022");
  json b = json::parse(
      *BuildRequestBody(WireFormat::kAnthropic, spec.name, ToolConversation(), Options(spec)));
  EXPECT_EQ(b["system"], "You are terse.");
  EXPECT_EQ(b["max_tokens"], 300);
  ASSERT_EQ(b["messages"].size(), 3u);
  EXPECT_EQ(b["messages"][1]["role"], "assistant");
  EXPECT_EQ(b["messages"][1]["content"][1]["type"], "tool_use");
  EXPECT_EQ(b["messages"][1]["content"][1]["input"]["code"], "print(6*7)");
  EXPECT_EQ(b["messages"][2]["role"], "user");
  EXPECT_EQ(b["messages"][2]["content"][0]["type"], "tool_result");
  EXPECT_EQ(b["messages"][2]["content"][0]["tool_use_id"], "call_1");
  EXPECT_EQ(b["tools"][0]["input_schema"]["type"], "object");
  EXPECT_EQ(b["stop_sequences"][0], "END");
  EXPECT_FALSE(b.contains("top_p"));
}

// Client builds, server parses, server answers, client parses: both formats round-trip.
class RoundTrip : public ::testing::TestWithParam<WireFormat> {};

TEST_P(RoundTrip, RequestAndResponse) {
  const WireFormat f = GetParam();
  ModelSpec spec = f == WireFormat::kOpenAi ? Spec("openai", "gpt-4o") : Spec("anthropic", "c");
  LlmRequest sent = ToolConversation();
  std::string model;
  Result<LlmRequest> got =
      ParseRequestBody(f, *BuildRequestBody(f, spec.name, sent, Options(spec)), &model);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(model, spec.name);
  ASSERT_EQ(got->messages.size(), sent.messages.size());
  EXPECT_EQ(got->messages[2].tool_calls[0].id, "call_1");
  EXPECT_EQ(json::parse(got->messages[2].tool_calls[0].arguments_json)["code"], "print(6*7)");
  EXPECT_EQ(got->messages[3].role, "tool");
  EXPECT_EQ(got->messages[3].content, "42");
  EXPECT_EQ(got->gen.max_tokens, 300);
  EXPECT_EQ(got->tools[0].name, "python");

  LlmResponse reply;
  reply.content = "Running.";
  reply.tool_calls.push_back({"call_9", "python", R"J({"code":"print(1)"})J"});
  reply.finish_reason = "tool_calls";
  reply.usage = {.input_tokens = 100, .cached_input_tokens = 20, .output_tokens = 7};
  Result<LlmResponse> back = ParseResponseBody(f, BuildResponseBody(f, spec.name, reply, "id1"));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->content, "Running.");
  ASSERT_EQ(back->tool_calls.size(), 1u);
  EXPECT_EQ(back->tool_calls[0].id, "call_9");
  EXPECT_EQ(json::parse(back->tool_calls[0].arguments_json)["code"], "print(1)");
  EXPECT_EQ(back->finish_reason, "tool_calls");
  EXPECT_EQ(back->usage.input_tokens, 100);
  EXPECT_EQ(back->usage.cached_input_tokens, 20);
  EXPECT_EQ(back->usage.output_tokens, 7);
}

TEST_P(RoundTrip, GarbageNeverThrows) {
  const WireFormat f = GetParam();
  for (const char* bad : {"", "{", "{\"choices\":[]}", "{\"content\":5}", "[]", "null",
                          "{\"choices\":[{\"message\":3}]}", "{\"messages\":7,\"model\":\"m\"}"}) {
    EXPECT_FALSE(ParseResponseBody(f, bad).ok()) << bad;
    std::string model;
    EXPECT_FALSE(ParseRequestBody(f, bad, &model).ok()) << bad;
  }
}

std::string Nested(int depth, const char* open = "{\"a\":", const char* close = "}") {
  std::string s;
  for (int i = 0; i < depth; ++i) s += open;
  s += "1";
  for (int i = 0; i < depth; ++i) s += close;
  return s;
}

// A reply nested 200,000 deep (400 KB) used to crash the worker with SIGSEGV: the parser is
// iterative, but Dump() of a tool call's input recursed once per level.
TEST_P(RoundTrip, DeepReplyIsAnErrorNotACrash) {
  const WireFormat f = GetParam();
  std::string body =
      f == WireFormat::kAnthropic
          ? R"({"content":[{"type":"tool_use","id":"t","name":"python","input":)" +
                Nested(200'000) + "}]}"
          : R"({"choices":[{"message":{"content":"x","tool_calls":[{"id":"t","function":)" +
                Nested(200'000) + "}]}}]}";
  Result<LlmResponse> r = ParseResponseBody(f, body);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nested deeper than 128"), std::string::npos)
      << r.status().message();
  std::string model;
  EXPECT_FALSE(ParseRequestBody(f, Nested(200'000), &model).ok());
  EXPECT_EQ(ExtractErrorMessage(Nested(200'000)).size(), 300u);
  // Depth up to the bound still parses.
  std::string shallow =
      R"({"content":[{"type":"tool_use","id":"t","name":"python","input":)" + Nested(100) + "}]}";
  EXPECT_TRUE(ParseResponseBody(WireFormat::kAnthropic, shallow).ok());
}

// Tool arguments are a string the model wrote; a deep one is sent back as {} rather than
// crashing the request builder (it parsed and re-dumped them).
TEST_P(RoundTrip, DeepToolArgumentsNeverCrashTheNextRequest) {
  const WireFormat f = GetParam();
  ModelSpec spec = f == WireFormat::kOpenAi ? Spec("openai", "gpt-4o") : Spec("anthropic", "c");
  LlmRequest sent = ToolConversation();
  sent.messages[2].tool_calls[0].arguments_json = Nested(200'000);
  Result<std::string> body = BuildRequestBody(f, spec.name, sent, Options(spec));
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  // Anthropic sends arguments as an object (now {}); OpenAI passes the string through as is.
  if (f == WireFormat::kAnthropic) {
    EXPECT_LT(body->size(), 10'000u);
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, RoundTrip,
                         ::testing::Values(WireFormat::kOpenAi, WireFormat::kAnthropic));

// Each API's own error shape and types (the official clients parse them:
// tests/integration/clients).
TEST(Errors, BodiesCarryEachApisTypes) {
  auto body = [](WireFormat f, int status, const char* code) {
    return nlohmann::json::parse(BuildErrorBody(f, status, code, "m"));
  };
  nlohmann::json o = body(WireFormat::kOpenAi, 429, "rate_limit_exceeded");
  EXPECT_EQ(o["error"]["type"], "requests");
  EXPECT_EQ(o["error"]["code"], "rate_limit_exceeded");
  EXPECT_TRUE(o["error"]["param"].is_null());
  EXPECT_EQ(body(WireFormat::kOpenAi, 500, "")["error"]["type"], "server_error");
  EXPECT_TRUE(body(WireFormat::kOpenAi, 500, "")["error"]["code"].is_null());
  EXPECT_EQ(body(WireFormat::kOpenAi, 401, "invalid_api_key")["error"]["type"],
            "invalid_request_error");
  nlohmann::json a = body(WireFormat::kAnthropic, 429, "rate_limit_exceeded");
  EXPECT_EQ(a["type"], "error");
  EXPECT_EQ(a["error"]["type"], "rate_limit_error");
  EXPECT_EQ(body(WireFormat::kAnthropic, 500, "")["error"]["type"], "api_error");
  EXPECT_EQ(body(WireFormat::kAnthropic, 503, "")["error"]["type"], "api_error");
  EXPECT_EQ(body(WireFormat::kAnthropic, 529, "")["error"]["type"], "overloaded_error");
  EXPECT_EQ(body(WireFormat::kAnthropic, 401, "invalid_api_key")["error"]["type"],
            "authentication_error");
  EXPECT_EQ(body(WireFormat::kAnthropic, 400, "")["error"]["type"], "invalid_request_error");
}

TEST(Errors, ExtractAndRedact) {
  EXPECT_EQ(ExtractErrorMessage(BuildErrorBody(WireFormat::kOpenAi, 400, "", "bad")), "bad");
  EXPECT_EQ(ExtractErrorMessage(BuildErrorBody(WireFormat::kAnthropic, 404, "", "nope")), "nope");
  EXPECT_EQ(ExtractErrorMessage("<html>oops</html>"), "<html>oops</html>");
  const std::string key = "abcd1234secretvalue";
  std::string msg =
      RedactSecrets("Incorrect API key provided: " + key + " and sk-proj-AAAA****BBBB", key);
  EXPECT_EQ(msg.find(key), std::string::npos);
  EXPECT_EQ(msg.find("sk-proj"), std::string::npos);
  EXPECT_NE(msg.find("[REDACTED]"), std::string::npos);
}

TEST(Options, Validation) {
  EXPECT_TRUE(
      ValidateProviderModel(Spec("openai", "gpt-4o", R"({"base_url":"http://127.0.0.1:8000/v1",
    "api_key_env":"K","headers":{"X":"y"},"timeouts":{"connect_ms":100,"total_ms":2000},
    "retry":{"max_attempts":3},"price":{"input":1,"output":2},"cell_context_header":true,
    "key_alias":"team"})"))
          .ok());
  EXPECT_FALSE(ValidateProviderModel(Spec("openai", "gpt-4o", R"({"bogus":1})")).ok());
  EXPECT_FALSE(ValidateProviderModel(Spec("openai", "gpt-4o", R"({"temperature":"hot"})")).ok());
  EXPECT_FALSE(ValidateProviderModel(Spec("openai", "gpt-4o", R"({"base_url":"ftp://x"})")).ok());
  EXPECT_FALSE(ValidateProviderModel(Spec("openai", "gpt-4o", "not json")).ok());
  EXPECT_FALSE(ValidateProviderModel(Spec("sim", "default")).ok());
  ProviderOptions o = Options(Spec("anthropic", "c"));
  EXPECT_EQ(o.base_url, "https://api.anthropic.com");
  EXPECT_EQ(o.api_key_env, "ANTHROPIC_API_KEY");
}

TEST(Prices, LongestPrefixAndCost) {
  Result<PriceTable> t = PriceTable::FromJson(R"({"_c":"x","openai:gpt-4o":{"input":2.5,
      "cached_input":1.25,"output":10},"openai:gpt-4o-mini":{"input":0.15,"output":0.6}})");
  ASSERT_TRUE(t.ok());
  EXPECT_DOUBLE_EQ(t->Find("openai:gpt-4o-2024-08-06")->input, 2.5);
  EXPECT_DOUBLE_EQ(t->Find("openai:gpt-4o-mini-2024")->input, 0.15);
  EXPECT_DOUBLE_EQ(t->Find("openai:gpt-4o-mini")->cached_input, 0.15);
  EXPECT_FALSE(t->Find("anthropic:claude").has_value());
  LlmUsage u{.input_tokens = 1'000'000, .cached_input_tokens = 400'000, .output_tokens = 100'000};
  EXPECT_DOUBLE_EQ(CostUsd(*t->Find("openai:gpt-4o"), u), 0.6 * 2.5 + 0.4 * 1.25 + 0.1 * 10);
  EXPECT_TRUE(PriceTable::Load(std::string(CODESWEEP_SOURCE_DIR) + "/data/prices.json").ok());
  EXPECT_FALSE(PriceTable::FromJson(R"({"m":{"inptu":1}})").ok());
}

TEST(Factory, MissingKeyIsFailedPrecondition) {
  ProviderEnv env;
  env.get_secret = [](const std::string&) { return std::nullopt; };
  auto c = MakeProviderClient(Spec("openai", "gpt-4o"), env);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(c.status().message().find("OPENAI_API_KEY"), std::string::npos);
}

}  // namespace
}  // namespace codesweep
