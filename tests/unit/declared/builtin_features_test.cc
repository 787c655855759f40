// The declared-task features the paper's dataset tasks needed when they became task files in
// data/ (issue 15; docs/tasks.md, "The paper's dataset tasks as task files"): raw extraction,
// the unambiguous Yes/No, option and lone-number fallbacks, the yes_no / option / last_number
// scorers, complexity_pattern and levels, order = "file", reference programs, task files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "jobs/tasks/common.h"
#include "jobs/tasks/declared/declared_task.h"
#include "jobs/tasks/declared/extract.h"
#include "jobs/tasks/declared/scorers.h"

namespace codesweep {
namespace {

using ::testing::HasSubstr;

Extractor E(const nlohmann::json& spec) { return ParseExtractor(spec).value(); }

constexpr const char* kQuestion =
    "Which date?\nOptions:\n(A) 12/25/1937\n(B) 01/02/1938\n(C) 03/04/1939\nOutput <<<(A)>>>.";

TEST(BuiltinExtractors, RawTripleAngleStopsTheChainEvenWhenEmpty) {
  std::vector<Extractor> chain = {E({{"kind", "triple_angle"}, {"raw", true}}), E("final_yes_no")};
  auto got = ExtractAnswer("So, Yes.\n<<< >>>", chain);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->answer, " ");
  EXPECT_EQ(got->position, 0u);
  // Not raw: a blank <<<>>> is no answer and the fallback reads the reply.
  chain[0] = E("triple_angle");
  got = ExtractAnswer("So, Yes.\n<<< >>>", chain);
  EXPECT_FALSE(got.has_value());  // the last line is "<<< >>>", which names no Yes/No
  got = ExtractAnswer("<<< >>>\nSo the answer is Yes.", chain);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->answer, "yes");
  EXPECT_EQ(got->position, 1u);
  EXPECT_FALSE(ParseExtractor({{"kind", "last_line"}, {"raw", true}}).ok());
  EXPECT_FALSE(ParseExtractor({{"kind", "boxed"}, {"raw", "yes"}}).ok());
}

TEST(BuiltinExtractors, FinalYesNoOnlyWhenUnambiguous) {
  Extractor e = E("final_yes_no");
  EXPECT_EQ(ExtractWith("He lies.\nSo the answer is No.", e), "no");
  EXPECT_EQ(ExtractWith("**Yes**", e), "yes");
  EXPECT_FALSE(ExtractWith("Yes or No", e).has_value());
  EXPECT_FALSE(ExtractWith("- Yes\n- No", e).has_value());
  EXPECT_FALSE(ExtractWith("Is it yes?", e).has_value());
  EXPECT_FALSE(ExtractWith("No, Jamey lies.", e).has_value());
}

TEST(BuiltinExtractors, FinalOptionReadsTheOptionsListedInThePrompt) {
  Extractor e = E("final_option");
  EXPECT_EQ(ExtractWith("Thinking.\nThe answer is (B).", e, kQuestion), "(B)");
  EXPECT_EQ(ExtractWith("Thinking.\n03/04/1939", e, kQuestion), "(C)");
  EXPECT_EQ(ExtractWith("Answer: (A) 12/25/1937", e, kQuestion), "(A)");
  EXPECT_FALSE(ExtractWith("(A) (B) (C)", e, kQuestion).has_value());
  // Without the prompt the option texts are unknown.
  EXPECT_FALSE(ExtractWith("Thinking.\n03/04/1939", e).has_value());
}

TEST(BuiltinExtractors, LoneNumberLine) {
  Extractor e = E("lone_number_line");
  EXPECT_EQ(ExtractWith("Steps: 3 + 4.\nTotal: $1,234.50", e), "Total: $1,234.50");
  EXPECT_FALSE(ExtractWith("It is 12 or 13", e).has_value());
  EXPECT_FALSE(ExtractWith("12\nno number here", e).has_value());
  EXPECT_FALSE(ExtractWith("", e).has_value());
}

Verdict S(const nlohmann::json& spec, std::string_view answer, std::vector<std::string> targets,
          std::string_view prompt = {}) {
  return Score(ParseScorer(spec).value(), answer, targets, prompt);
}

TEST(BuiltinScorers, YesNo) {
  EXPECT_TRUE(S("yes_no", "**Yes.**", {"Yes"}).correct);
  EXPECT_EQ(S("yes_no", "yes", {"Yes"}).parsed, "Yes");
  Verdict wrong = S("yes_no", "No", {"Yes"});
  EXPECT_FALSE(wrong.correct);
  EXPECT_EQ(wrong.parsed, "No");
  Verdict unreadable = S("yes_no", " Incorrect ", {"Yes"});
  EXPECT_FALSE(unreadable.correct);
  EXPECT_EQ(unreadable.parsed, " Incorrect ");  // as written
  EXPECT_EQ(S("yes_no", std::string(500, 'x'), {"No"}).parsed, std::string(80, 'x') + "...");
}

TEST(BuiltinScorers, OptionByLetterOrListedText) {
  EXPECT_TRUE(S("option", "(B)", {"(B)"}, kQuestion).correct);
  EXPECT_TRUE(S("option", "b)", {"(B)"}, kQuestion).correct);
  EXPECT_TRUE(S("option", "01/02/1938", {"(B)"}, kQuestion).correct);
  EXPECT_EQ(S("option", "01/02/1938", {"(B)"}, kQuestion).parsed, "(B)");
  EXPECT_FALSE(S("option", "(C)", {"(B)"}, kQuestion).correct);
  // Letters beyond the listed options are not options.
  EXPECT_EQ(S("option", "(F)", {"(B)"}, kQuestion).reason, "no option letter in the answer");
}

TEST(BuiltinScorers, LastNumberWithTolerance) {
  nlohmann::json spec = {{"kind", "last_number"}, {"rel_tol", 1e-3}, {"abs_tol", 1e-9}};
  EXPECT_TRUE(S(spec, "$5,186,630.60", {"5186630.5999999996"}).correct);
  EXPECT_TRUE(S(spec, "3/4", {"0.75"}).correct);
  EXPECT_FALSE(S(spec, "5200000", {"5186630.6"}).correct);
  EXPECT_EQ(S(spec, "12", {"12"}).parsed, "12");
  EXPECT_FALSE(S(spec, "1e999", {"1"}).correct);
  EXPECT_FALSE(ParseScorer({{"kind", "last_number"}, {"rel_tol", -1}}).ok());
}

TEST(BuiltinScorers, MathReadsABoxInsideTheAnswer) {
  EXPECT_TRUE(S("math", "\\boxed{\\frac{1}{2}}", {"0.5"}).correct);
  EXPECT_EQ(S("math", "\\boxed{\\dfrac{1}{2}}", {"0.5"}).parsed, "\\frac{1}{2}");
}

class BuiltinTaskFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cs_builtin_features_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    Write("q.jsonl",
          "{\"id\": \"a\", \"q\": \"1+1\", \"t\": \"2\", \"level\": \"Level 1\"}\n"
          "{\"id\": \"b\", \"q\": \"2+2\", \"t\": \"4\", \"level\": \"Level ?\"}\n"
          "{\"id\": \"c\", \"q\": \"3+3\", \"t\": \"6\", \"level\": \"Level 2\"}\n"
          "{\"id\": \"d\", \"q\": \"4+4\", \"t\": \"8\", \"level\": \"Level 1\"}\n"
          "{\"id\": \"e\", \"q\": \"5+5\", \"t\": \"10\", \"level\": \"Level 9\"}\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  Result<std::unique_ptr<DeclaredTask>> Load(const std::string& toml) {
    Write("task.toml", toml);
    Result<std::vector<DeclaredTaskSpec>> specs =
        ReadDeclaredTaskFile((dir_ / "task.toml").string());
    if (!specs.ok()) return specs.status();
    EXPECT_EQ(specs->size(), 1u);
    return DeclaredTask::Create(std::move(specs->front()));
  }
  static constexpr const char* kTask = R"TOML(name = "adds"
dataset = "q.jsonl"
id = "{id}"
prompt = "{q}\nAnswer as <<<n>>>."
target = "{t}"
complexity = "{level}"
complexity_pattern = "Level ([1-5])"
serve_levels = ["2", "1"]
order = "file"
)TOML";
  std::filesystem::path dir_;
};

TEST_F(BuiltinTaskFileTest, PatternAndLevelsPickAndNameTheLevels) {
  auto task = Load(kTask);
  ASSERT_TRUE(task.ok()) << task.status().ToString();
  EXPECT_EQ((*task)->complexity_levels(), (std::vector<std::string>{"2", "1"}));
  EXPECT_EQ((*task)->InstanceCount("1"), 2);
  EXPECT_EQ((*task)->InstanceCount("2"), 1);
  EXPECT_EQ((*task)->skipped_rows(), 2u);  // "Level ?" and "Level 9"
  EXPECT_FALSE((*task)->ValidateComplexity("Level 1").ok());
  EXPECT_FALSE((*task)->ValidateComplexity("9").ok());
}

TEST_F(BuiltinTaskFileTest, FileOrderServesTheSeededPermutationOfTheFile) {
  auto task = Load(kTask);
  ASSERT_TRUE(task.ok()) << task.status().ToString();
  const std::vector<std::string> level1 = {"1+1\nAnswer as <<<n>>>.", "4+4\nAnswer as <<<n>>>."};
  for (uint64_t seed : {0ull, 1ull, 7ull}) {
    for (int64_t s = 0; s < 4; ++s) {
      auto inst = (*task)->Generate("1", s, seed);
      ASSERT_TRUE(inst.ok());
      EXPECT_EQ(inst->prompt, level1[PermutedItem("adds", "1", s, seed, 2)]);
    }
  }
}

TEST_F(BuiltinTaskFileTest, ReferenceFileSolvesFromThePrompt) {
  Write("solve.py",
        "def solve(prompt):\n    a, b = prompt.split('\\n')[0].split('+')\n"
        "    return int(a) + int(b)\n");
  auto task = Load(std::string(kTask) + "reference = \"solve.py\"\n");
  ASSERT_TRUE(task.ok()) << task.status().ToString();
  auto inst = (*task)->Generate("2", 0, 0);
  std::string ref = (*task)->ReferenceSolution(*inst);
  EXPECT_THAT(ref, HasSubstr("def solve(prompt)"));
  EXPECT_THAT(ref, HasSubstr("answer = solve(prompt)\nprint(\"<<<\" + str(answer) + \">>>\")"));
  Write("bad.py", "print(1)\n");
  EXPECT_THAT(Load(std::string(kTask) + "reference = \"bad.py\"\n").status().message(),
              HasSubstr("solve(prompt)"));
  EXPECT_THAT(Load(std::string(kTask) + "reference = \"missing.py\"\n").status().message(),
              HasSubstr("missing.py"));
}

TEST_F(BuiltinTaskFileTest, TaskFileErrorsNameTheFile) {
  auto bad = Load("name = \"x\"\nprompt = \"unterminated\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("task.toml:2"));
  auto order = Load(std::string(kTask) + "order = \"random\"\n");
  EXPECT_FALSE(order.ok());  // a duplicate key is a TOML error
  std::string text = kTask;
  text.replace(text.find("order = \"file\""), 14, "order = \"shuffled\"");
  EXPECT_THAT(Load(text).status().message(), HasSubstr("tasks.adds.order"));
  auto none = Load(std::string(kTask).replace(std::string(kTask).find("([1-5])"), 7, "([7-8])"));
  EXPECT_THAT(none.status().message(), HasSubstr("no row is served"));
}

TEST_F(BuiltinTaskFileTest, TasksArrayForm) {
  Write("two.toml",
        "[[tasks]]\nname = \"one\"\ndataset = \"q.jsonl\"\nprompt = \"{q}\"\n"
        "target = \"{t}\"\n[[tasks]]\nname = \"two\"\ndataset = \"q.jsonl\"\n"
        "prompt = \"{q}!\"\ntarget = \"{t}\"\n");
  auto specs = ReadDeclaredTaskFile((dir_ / "two.toml").string());
  ASSERT_TRUE(specs.ok()) << specs.status().ToString();
  ASSERT_EQ(specs->size(), 2u);
  EXPECT_EQ((*specs)[1].name, "two");
}

}  // namespace
}  // namespace codesweep
