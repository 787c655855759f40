// Seeded, bounded fuzzing of provider wire bodies (issue 20): mutated OpenAI and Anthropic
// replies and requests must parse or give InvalidArgument — never crash, hang or throw — and
// whatever parses must survive the next request build.
#include <gtest/gtest.h>

#include <string>

#include "base/hash.h"
#include "jobs/llm/providers.h"
#include "jobs/llm/wire_format.h"

namespace codesweep {
namespace {

const char* kPieces[] = {"{",
                         "}",
                         "[",
                         "]",
                         "\"",
                         ",",
                         ":",
                         "null",
                         "true",
                         "1e999",
                         "-1",
                         "\\u0000",
                         "\\ud800",
                         "\xff",
                         "\"tool_calls\":[",
                         "\"input\":{",
                         "\"content\":[",
                         "{\"a\":"};

std::string Mutate(Rng& rng, std::string s) {
  for (int64_t e = rng.Uniform(1, 5); e > 0; --e) {
    size_t pos = static_cast<size_t>(rng.Uniform(0, static_cast<int64_t>(s.size())));
    int64_t kind = rng.Uniform(0, 3);
    if (kind == 0 && !s.empty()) {
      s[pos % s.size()] = static_cast<char>(rng.Uniform(0, 255));
    } else if (kind == 1) {
      s.erase(pos, static_cast<size_t>(rng.Uniform(1, 20)));
    } else {
      std::string piece = kPieces[rng.Uniform(0, std::size(kPieces) - 1)];
      std::string run;
      for (int64_t n = kind == 3 ? rng.Uniform(10, 50'000) : 1; n > 0; --n) run += piece;
      s.insert(pos, run);
    }
  }
  return s;
}

TEST(WireFuzzTest, MutatedBodiesParseOrFailClearly) {
  Rng rng(4242);
  for (WireFormat f : {WireFormat::kOpenAi, WireFormat::kAnthropic}) {
    ModelSpec spec{"openai:gpt-4o", "openai", "gpt-4o", "{}"};
    if (f == WireFormat::kAnthropic) spec = {"anthropic:c", "anthropic", "c", "{}"};
    Result<ProviderOptions> options = ParseProviderOptions(spec);
    ASSERT_TRUE(options.ok());
    LlmResponse reply;
    reply.content = "Let me run code.";
    reply.tool_calls.push_back({"call_1", "python", R"J({"code":"print(6*7)"})J"});
    reply.finish_reason = "tool_calls";
    const std::string seed = BuildResponseBody(f, spec.name, reply, "id1");
    int accepted = 0;
    for (int i = 0; i < 1500; ++i) {
      std::string body = Mutate(rng, seed);
      Result<LlmResponse> r = ParseResponseBody(f, body);
      EXPECT_LE(ExtractErrorMessage(body).size(), 1000u);
      if (!r.ok()) {
        EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
        continue;
      }
      ++accepted;
      // The reply goes into the next turn's request: that must build too.
      LlmRequest next;
      next.messages.push_back({.role = "user", .content = "Compute 6*7."});
      ChatMessage a{.role = "assistant", .content = r->content};
      a.tool_calls = r->tool_calls;
      next.messages.push_back(a);
      EXPECT_TRUE(BuildRequestBody(f, spec.name, next, *options).ok());
      std::string model;
      Result<LlmRequest> req = ParseRequestBody(f, Mutate(rng, body), &model);
      (void)req;
    }
    EXPECT_GT(accepted, 0);
  }
}

}  // namespace
}  // namespace codesweep
