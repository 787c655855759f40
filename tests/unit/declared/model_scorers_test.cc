#include "jobs/tasks/declared/model_scorers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "jobs/sandbox/sandbox.h"

namespace codesweep {
namespace {

using ::testing::HasSubstr;

// Runs a Python scorer's program in the real sandbox (fresh mode, the tier the machine offers).
class PythonScorerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto made = MakeSandbox(SandboxOptions{}, Logger::Null());
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    sandbox_ = made->release();
  }
  static void TearDownTestSuite() {
    delete sandbox_;
    sandbox_ = nullptr;
  }
  Verdict Run(const std::string& source, std::string_view answer = "42", int64_t wall_ms = 10'000) {
    PythonScorer scorer{"check.py", source, "score"};
    nlohmann::json row = {{"target", "42"}, {"text", "«×÷»"}};
    ExecRequest req;
    req.code = PythonScorerProgram(scorer, answer, row, "the reply says <<<42>>>");
    req.limits.wall_ms = wall_ms;
    req.limits.cpu_ms = wall_ms + 1000;
    Result<ExecResult> r = sandbox_->Run(req);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return Verdict{};
    return PythonScorerVerdict(ExecStatusName(r->status), *r);
  }
  static Executor* sandbox_;
};
Executor* PythonScorerTest::sandbox_ = nullptr;

TEST_F(PythonScorerTest, ReturnValuesBecomeVerdicts) {
  Verdict yes = Run("def score(answer, row, reply):\n    return answer == row['target']\n");
  EXPECT_TRUE(yes.correct) << yes.reason;
  EXPECT_FALSE(Run("def score(a, row, reply):\n    return a == 'x'\n").correct);
  Verdict partial = Run("def score(a, row, reply):\n    return 0.25\n");
  EXPECT_FALSE(partial.correct);
  EXPECT_DOUBLE_EQ(partial.score, 0.25);
  Verdict dict =
      Run("def score(a, row, reply):\n"
          "    print('noise before the verdict')\n"
          "    return {'correct': '<<<42>>>' in reply and row['text'] == '«×÷»', 'score': 1,"
          " 'reason': 'found it ✓'}\n");
  EXPECT_TRUE(dict.correct) << dict.reason;
  EXPECT_EQ(dict.reason, "found it ✓");
}

TEST_F(PythonScorerTest, EveryScorerFailureIsAVerdictWithAReason) {
  EXPECT_THAT(Run("def score(a, row, reply):\n    return 1 / 0\n").reason,
              HasSubstr("the Python scorer failed: ZeroDivisionError"));
  EXPECT_THAT(Run("def other(a, row, reply):\n    return True\n").reason, HasSubstr("NameError"));
  EXPECT_THAT(Run("def score(a, row, reply):\n    while True: pass\n", "42", 1500).reason,
              HasSubstr("timed out"));
  EXPECT_THAT(Run("import os\ndef score(a, row, reply):\n    os.abort()\n").reason,
              HasSubstr("killed by signal"));
  EXPECT_THAT(Run("def score(a, row, reply):\n    return {1, 2}\n").reason,
              HasSubstr("returned a \"set\""));
  EXPECT_THAT(Run("def score(a, row, reply):\n    return 'yes'\n").reason, HasSubstr("not a bool"));
  EXPECT_THAT(Run("def score(a, row, reply):\n    return float('nan')\n").reason,
              HasSubstr("returned a \"float\""));
  EXPECT_THAT(Run("def score(a, row, reply):\n    return 7\n").reason, HasSubstr("[0, 1]"));
  EXPECT_THAT(Run("import sys\ndef score(a, row, reply):\n    sys.exit(0)\n").reason,
              HasSubstr("printed no verdict"));
  EXPECT_THAT(Run("def score(a, row, reply):\n    return {'correct': 1}\n").reason,
              HasSubstr("not a bool"));
  EXPECT_THAT(Run("this is not python(\n").reason, HasSubstr("SyntaxError"));
}

TEST_F(PythonScorerTest, HostileAnswerTextReachesTheScorerIntact) {
  std::string hostile = "'''\"\"\"\\n\x1b[31m\xff<<<x>>>";
  Verdict v =
      Run("def score(a, row, reply):\n    return {'correct': True, 'reason': repr(a)}\n", hostile);
  EXPECT_TRUE(v.correct) << v.reason;
  EXPECT_THAT(v.reason, HasSubstr("\\x1b[31m"));
  EXPECT_THAT(v.reason, HasSubstr("\xEF\xBF\xBD"));  // invalid UTF-8 arrives repaired (U+FFFD)
}

TEST(JudgeTest, GradesAreReadFromTheLastGradeLine) {
  Verdict c = ParseJudgeVerdict("The answer matches the reference.\nGRADE: C");
  EXPECT_TRUE(c.correct);
  EXPECT_EQ(c.reason, "judge: The answer matches the reference.");
  Verdict quoted = ParseJudgeVerdict(
      "The instructions say to end with GRADE: C or GRADE: I.\nIt is wrong.\n**GRADE: I**");
  EXPECT_FALSE(quoted.correct);
  EXPECT_DOUBLE_EQ(quoted.score, 0);
  Verdict partial = ParseJudgeVerdict("Half right.\ngrade: p");
  EXPECT_FALSE(partial.correct);
  EXPECT_DOUBLE_EQ(partial.score, 0.5);
  Verdict json = ParseJudgeVerdict("Thinking... {\"correct\": true, \"reason\": \"same value\"}");
  EXPECT_TRUE(json.correct);
  EXPECT_EQ(json.reason, "judge: same value");
  EXPECT_FALSE(ParseJudgeVerdict("The grade is hard to say").correct);
  EXPECT_THAT(ParseJudgeVerdict("no verdict at all").reason, HasSubstr("the judge gave no grade"));
  EXPECT_FALSE(ParseJudgeVerdict("GRADE: Correct-ish").correct);
  EXPECT_FALSE(ParseJudgeVerdict(std::string(100000, '{') + "GRADE").correct);
}

TEST(JudgeTest, PromptRendersRowFieldsAndTheAnswer) {
  JudgeScorer judge{"sim", *Template::Parse(DefaultJudgeRubric())};
  auto prompt = JudgePrompt(judge, {{"x", 1}}, "What is 6*7?", "42", "42 | forty-two", "<<<42>>>");
  ASSERT_TRUE(prompt.ok());
  EXPECT_THAT(*prompt, HasSubstr("Question:\nWhat is 6*7?"));
  EXPECT_THAT(*prompt, HasSubstr("Reference answer:\n42 | forty-two"));
  JudgeScorer custom{"sim", *Template::Parse("Rate {answer} for {topic}")};
  EXPECT_THAT(JudgePrompt(custom, {{"x", 1}}, "q", "a", "t", "r").status().message(),
              HasSubstr("missing field 'topic'"));
}

}  // namespace
}  // namespace codesweep
