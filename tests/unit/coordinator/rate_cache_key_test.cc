// The call cache key as the coordinator relies on it: JSON field order never changes a key; any
// change in content (model, message, tool, setting, draw) does; transport options do not.
#include <gtest/gtest.h>

#include "jobs/llm/llm_client.h"

namespace codesweep {
namespace {

ModelSpec Model(const std::string& options = "{}", const std::string& name = "gpt-4o") {
  return ModelSpec{"openai:" + name, "openai", name, options};
}

LlmRequest Request() {
  LlmRequest r;
  r.messages.push_back({.role = "system", .content = "Answer briefly."});
  r.messages.push_back({.role = "user", .content = "Sum 1..10?"});
  ChatMessage a{.role = "assistant", .content = ""};
  a.tool_calls.push_back({"c1", "python", R"J({"code":"print(55)","timeout":5})J"});
  r.messages.push_back(a);
  r.messages.push_back({.role = "tool", .content = "55", .tool_call_id = "c1", .name = "python"});
  r.tools.push_back({"python", "Run code", R"J({"type":"object","required":["code"]})J"});
  r.gen.max_tokens = 256;
  return r;
}

std::string Key(const LlmRequest& r, const ModelSpec& m = Model()) {
  return ComputeCallKey(m, r).value();
}

TEST(CacheKeyTest, FieldOrderInJsonDoesNotChangeTheKey) {
  LlmRequest b = Request();
  b.messages[2].tool_calls[0].arguments_json = R"J({ "timeout": 5, "code": "print(55)" })J";
  b.tools[0].parameters_json = R"J({"required":["code"],"type":"object"})J";
  EXPECT_EQ(Key(Request()), Key(b));
  EXPECT_EQ(Key(Request(), Model(R"J({"top_k":2,"logit_bias":{"a":1,"b":2}})J")),
            Key(Request(), Model(R"J({"logit_bias":{"b":2,"a":1},"top_k":2})J")));
}

TEST(CacheKeyTest, TransportOptionsDoNotChangeTheKey) {
  EXPECT_EQ(Key(Request(), Model(R"({"base_url":"http://a","api_key_env":"A"})")),
            Key(Request(), Model(R"({"base_url":"http://b","api_key_env":"B","key_alias":"x"})")));
}

TEST(CacheKeyTest, AnyContentChangeChangesTheKey) {
  const std::string base = Key(Request());
  std::vector<LlmRequest> changed(9, Request());
  changed[0].messages[1].content = "Sum 1..11?";
  changed[1].messages[0].role = "user";
  changed[2].messages[2].tool_calls[0].arguments_json = R"J({"code":"print(56)","timeout":5})J";
  changed[3].messages[3].content = "56";
  changed[4].tools[0].description = "Run Python";
  changed[5].gen.temperature = 0.7;
  changed[6].gen.max_tokens = 257;
  changed[7].draw = 1;  // repeated sampling: distinct draws are distinct calls
  changed[8].gen.stop = {"\n"};
  for (size_t i = 0; i < changed.size(); ++i) EXPECT_NE(Key(changed[i]), base) << "change " << i;
  EXPECT_NE(Key(Request(), Model("{}", "gpt-4o-mini")), base);
  EXPECT_NE(Key(Request(), Model(R"J({"reasoning_effort":"high"})J")), base);
  ModelSpec other = Model();
  other.provider = "anthropic";
  EXPECT_NE(Key(Request(), other), base);
}

}  // namespace
}  // namespace codesweep
