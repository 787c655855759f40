// Unit tests for canonical request JSON, call keys and response JSON round trips.
#include "jobs/llm/llm_client.h"

#include <gtest/gtest.h>

namespace codesweep {
namespace {

ModelSpec Model(std::string options = "{}") {
  ModelSpec m;
  m.id = "openai:gpt-4o";
  m.provider = "openai";
  m.name = "gpt-4o";
  m.options_json = std::move(options);
  return m;
}

LlmRequest Request() {
  LlmRequest r;
  r.messages.push_back({.role = "system", .content = "Be brief."});
  r.messages.push_back({.role = "user", .content = "What is 2+2?"});
  ChatMessage assistant{.role = "assistant", .content = ""};
  assistant.tool_calls.push_back({"call_1", "python", R"J({"code":"print(4)","lang":"py"})J"});
  r.messages.push_back(assistant);
  r.messages.push_back(
      {.role = "tool", .content = "4\n", .tool_call_id = "call_1", .name = "python"});
  r.tools.push_back({"python", "Run Python", R"({"type":"object","properties":{"code":{}}})"});
  r.gen.temperature = 0.0;
  r.gen.max_tokens = 100;
  return r;
}

TEST(CanonicalRequestJson, IsCompactAndSorted) {
  std::string json = CanonicalRequestJson(Request());
  EXPECT_EQ(json.find('\n'), std::string::npos);
  EXPECT_EQ(json.find(": "), std::string::npos);
  EXPECT_LT(json.find("\"draw\""), json.find("\"gen\""));
  EXPECT_LT(json.find("\"gen\""), json.find("\"messages\""));
  EXPECT_LT(json.find("\"messages\""), json.find("\"tools\""));
}

TEST(CallKey, StableUnderJsonFieldOrder) {
  LlmRequest a = Request();
  LlmRequest b = Request();
  b.messages[2].tool_calls[0].arguments_json = R"J({ "lang": "py", "code": "print(4)" })J";
  b.tools[0].parameters_json = R"({"properties":{"code":{}},"type":"object"})";
  EXPECT_EQ(ComputeCallKey(Model(), a), ComputeCallKey(Model(), b));
  EXPECT_EQ(ComputeCallKey(Model(R"({"top_k":3,"x":{"a":1,"b":2}})"), a),
            ComputeCallKey(Model(R"({"x":{"b":2,"a":1},"top_k":3})"), a));
  EXPECT_EQ(ComputeCallKey(Model(), a).value().size(), 64u);
}

TEST(CallKey, IgnoresTransportOptions) {
  LlmRequest r = Request();
  EXPECT_EQ(ComputeCallKey(Model(), r),
            ComputeCallKey(Model(R"({"base_url":"http://x","api_key_env":"K","headers":{"a":"b"},
              "timeouts":{"total_ms":5},"cell_context_header":true,"price":{"input":1}})"),
                           r));
}

TEST(CallKey, ChangesWithAnyContent) {
  const LlmRequest base = Request();
  const CallKey k = ComputeCallKey(Model(), base);
  std::vector<LlmRequest> variants(12, base);
  variants[0].messages[1].content = "What is 2+3?";
  variants[1].messages[0].role = "user";
  variants[2].messages[2].tool_calls[0].arguments_json = R"J({"code":"print(5)"})J";
  variants[3].messages[2].tool_calls[0].id = "call_2";
  variants[4].messages[3].tool_call_id = "call_9";
  variants[5].tools[0].description = "Run Python code";
  variants[6].gen.temperature = 0.7;
  variants[7].gen.top_p = 0.9;
  variants[8].gen.max_tokens = 101;
  variants[9].gen.seed = 7;
  variants[10].gen.stop = {"END"};
  variants[11].draw = 1;
  for (size_t i = 0; i < variants.size(); ++i) {
    EXPECT_NE(ComputeCallKey(Model(), variants[i]), k) << "variant " << i;
  }
  ModelSpec other = Model();
  other.name = "gpt-4o-mini";
  EXPECT_NE(ComputeCallKey(other, base), k);
  other = Model();
  other.provider = "anthropic";
  EXPECT_NE(ComputeCallKey(other, base), k);
  EXPECT_NE(ComputeCallKey(Model(R"({"reasoning_effort":"high"})"), base), k);
}

TEST(ResponseJson, RoundTrips) {
  LlmResponse r;
  r.content = "The answer is <<<4>>>";
  r.tool_calls.push_back({"c1", "python", "{\"code\": \"print(1)\"}"});
  r.finish_reason = "tool_calls";
  r.usage = {.input_tokens = 10, .cached_input_tokens = 2, .output_tokens = 5, .estimated = true};
  r.http_status = 200;
  r.latency_ms = 123;
  r.attempts = 3;
  r.rate_limited = 1;
  r.cost_usd = 0.25;
  r.cached = true;
  Result<LlmResponse> back = ResponseFromJson(ResponseToJson(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->content, r.content);
  ASSERT_EQ(back->tool_calls.size(), 1u);
  EXPECT_EQ(back->tool_calls[0].arguments_json, r.tool_calls[0].arguments_json);
  EXPECT_EQ(back->finish_reason, "tool_calls");
  EXPECT_EQ(back->usage.input_tokens, 10);
  EXPECT_EQ(back->usage.cached_input_tokens, 2);
  EXPECT_EQ(back->usage.output_tokens, 5);
  EXPECT_TRUE(back->usage.estimated);
  EXPECT_EQ(back->http_status, 200);
  EXPECT_EQ(back->latency_ms, 123);
  EXPECT_EQ(back->attempts, 3);
  EXPECT_EQ(back->rate_limited, 1);
  EXPECT_DOUBLE_EQ(back->cost_usd, 0.25);
  EXPECT_TRUE(back->cached);
}

TEST(ResponseJson, BadInputIsStatusNotThrow) {
  for (const char* bad :
       {"", "{", "[1,2]", "null", R"({"content":5})", R"({"tool_calls":3})",
        R"({"tool_calls":[1]})", R"({"usage":{"input_tokens":"x"}})", "\xff\xfe"}) {
    Result<LlmResponse> r = ResponseFromJson(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    }
  }
  EXPECT_TRUE(ResponseFromJson("{}").ok());
}

TEST(ResponseJson, InvalidUtf8ContentDoesNotThrow) {
  LlmResponse r;
  r.content = "bad \xff bytes";
  std::string json = ResponseToJson(r);
  EXPECT_TRUE(ResponseFromJson(json).ok());
}

// Tool arguments nested 200,000 deep used to crash the call-key hash (parsed, then dumped with
// one recursion per level); past the depth bound they are hashed as the raw string they are.
TEST(CanonicalRequestJson, DeepToolArgumentsAreHashedAsText) {
  LlmRequest r = Request();
  std::string deep(200'000, '[');
  deep += std::string(200'000, ']');
  r.messages[2].tool_calls[0].arguments_json = deep;
  std::string json = CanonicalRequestJson(r);
  EXPECT_NE(json.find("\"[[[["), std::string::npos);
  LlmResponse reply;
  reply.tool_calls.push_back({"t", "f", deep});
  Result<LlmResponse> back = ResponseFromJson(ResponseToJson(reply));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->tool_calls[0].arguments_json, deep);
}

}  // namespace
}  // namespace codesweep
