#include "jobs/tasks/declared/template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace codesweep {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

nlohmann::json Row() {
  return nlohmann::json::parse(R"({"question": "What is 2+2?", "answer": 4, "ratio": 0.25,
    "whole": 3.0, "ok": true, "meta": {"source": "gsm", "tags": ["a", "b"]},
    "choices": ["red", "green", "blue"], "answers": ["four", "4", null],
    "turns": [{"text": "hi"}], "spaced key": "x"})");
}

TEST(TemplateTest, RendersFieldsNestedKeysAndListIndexes) {
  auto t = Template::Parse("Q: {question} ({meta.source}, {choices[2]}, {turns[0].text})");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t->Render(Row()), "Q: What is 2+2? (gsm, blue, hi)");
}

TEST(TemplateTest, RendersNumbersBooleansAndStructuresAsText) {
  auto t = Template::Parse("{answer}|{ratio}|{whole}|{ok}|{meta.tags}|{spaced key}");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t->Render(Row()), R"(4|0.25|3|true|["a","b"]|x)");
}

TEST(TemplateTest, DoubledBracesAreLiteral) {
  auto t = Template::Parse("{{\"json\": {answer}}} and }} {{");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t->Render(Row()), "{\"json\": 4} and } {");
  EXPECT_TRUE(t->fields().size() == 1);
}

TEST(TemplateTest, MissingFieldNamesTheField) {
  auto t = Template::Parse("{question} {meta.author}");
  ASSERT_TRUE(t.ok());
  auto r = t->Render(Row());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("missing field 'meta.author'"));
  auto out_of_range = Template::Parse("{choices[3]}")->Render(Row());
  EXPECT_THAT(out_of_range.status().message(), HasSubstr("'choices[3]'"));
  auto index_into_string = Template::Parse("{question[0]}")->Render(Row());
  EXPECT_FALSE(index_into_string.ok());
}

TEST(TemplateTest, SyntaxErrorsNameTheOffset) {
  for (const char* bad : {"{question", "a } b", "{}", "{a..b}", "{a[x]}", "{[1]}", "{a]}",
                          "{a[1]b}", "{a.}", "{a{b}}"}) {
    auto t = Template::Parse(bad);
    EXPECT_FALSE(t.ok()) << bad;
    if (!t.ok()) {
      EXPECT_THAT(t.status().message(), HasSubstr("template:")) << bad;
    }
  }
}

TEST(TemplateTest, RenderListSplitsAListFieldIntoTargets) {
  EXPECT_THAT(*Template::Parse("{answers}")->RenderList(Row()), ElementsAre("four", "4"));
  EXPECT_THAT(*Template::Parse("{answer}")->RenderList(Row()), ElementsAre("4"));
  EXPECT_THAT(*Template::Parse("= {answer}")->RenderList(Row()), ElementsAre("= 4"));
}

}  // namespace
}  // namespace codesweep
