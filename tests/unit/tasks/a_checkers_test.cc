// Checker and generator unit tests for number_multiply, game24, letters, blocksworld, bbh_*,
// gsm_hard and math_*: determinism, the special cases of the paper's defects, notations.
#include <gtest/gtest.h>

#include <set>

#include "jobs/tasks/answer_math.h"
#include "jobs/tasks/answer_number.h"
#include "jobs/tasks/common.h"
#include "jobs/tasks/rational_expr.h"
#include "tests/unit/tasks/a_test_util.h"

namespace codesweep::testing_a {
namespace {

Instance Gen(const std::string& task, const std::string& level, int64_t sample, uint64_t seed) {
  auto inst = TaskNamed(task).Generate(level, sample, seed);
  EXPECT_TRUE(inst.ok()) << task << " " << level << ": " << inst.status().ToString();
  return inst.ok() ? std::move(inst).value() : Instance{};
}

// The instance of the dataset item with this id (the seeded permutation decides its sample).
Instance ItemWithId(const std::string& task, const std::string& id) {
  const Task& t = TaskNamed(task);
  for (int64_t s = 0; s < t.InstanceCount(""); ++s) {
    Instance inst = Gen(task, "", s, 0);
    if (inst.data.value("id", std::string()) == id) return inst;
  }
  ADD_FAILURE() << task << " has no item " << id;
  return Instance{};
}

bool Ok(const std::string& task, const Instance& inst, const std::string& answer) {
  return TaskNamed(task).Check(inst, answer).correct;
}

const char* kMine[] = {"number_multiply",
                       "game24",
                       "letters",
                       "blocksworld",
                       "bbh_date_understanding",
                       "bbh_web_of_lies",
                       "bbh_logical_deduction_seven_objects",
                       "bbh_navigate",
                       "gsm_hard",
                       "math_geometry",
                       "math_counting_and_probability"};

TEST(TasksA, AllRegisteredDeterministicAndCanonicalAccepted) {
  for (const char* name : kMine) {
    const Task& t = TaskNamed(name);
    std::vector<std::string> levels = t.complexity_levels();
    if (levels.empty()) levels.push_back("");
    for (const std::string& level : levels) {
      ASSERT_TRUE(t.ValidateComplexity(level).ok()) << name << " " << level;
      Instance a = Gen(name, level, 3, 42), b = Gen(name, level, 3, 42);
      EXPECT_EQ(a.prompt, b.prompt) << name;
      EXPECT_EQ(a.data, b.data) << name;
      EXPECT_NE(a.prompt.find("<<<"), std::string::npos) << name;
      ASSERT_FALSE(a.canonical_answer.empty()) << name;
      Verdict v = t.Check(a, "<<<" + a.canonical_answer + ">>>");
      EXPECT_TRUE(v.correct) << name << " " << level << ": " << v.reason;
      EXPECT_FALSE(t.Check(a, "").correct) << name;
    }
    EXPECT_FALSE(t.ValidateComplexity("bogus_level!").ok()) << name;
  }
}

TEST(TasksA, SyntheticSeedsDiffer) {
  for (const char* name : {"number_multiply", "letters", "blocksworld"}) {
    const Task& t = TaskNamed(name);
    std::string level = t.complexity_levels().back();
    int distinct = 0;
    Instance first = Gen(name, level, 0, 1);
    for (uint64_t s = 2; s < 12; ++s) distinct += Gen(name, level, 0, s).prompt != first.prompt;
    EXPECT_GE(distinct, 8) << name;
    EXPECT_NE(Gen(name, level, 1, 1).prompt, first.prompt) << name;
  }
  // game24: the seed permutes the rows.
  EXPECT_NE(Gen("game24", "4", 0, 1).prompt + Gen("game24", "4", 1, 1).prompt,
            Gen("game24", "4", 0, 2).prompt + Gen("game24", "4", 1, 2).prompt);
}

TEST(TasksA, TripleAngleExtraction) {
  EXPECT_EQ(LastTripleAngle("a <<<1>>> b <<<2>>>"), "2");
  EXPECT_EQ(LastTripleAngle("<<<<x>>>>"), "x");
  EXPECT_EQ(LastTripleAngle("<<<a>>> then <<<b"), "a");
  EXPECT_EQ(LastTripleAngle("<<<a <<<b>>> c>>>"), "b");
  EXPECT_EQ(LastTripleAngle("<<<>>>"), "");
  EXPECT_EQ(LastTripleAngle(">>>"), std::nullopt);
  EXPECT_EQ(LastTripleAngle("<<<\nmulti\nline\n>>>"), "\nmulti\nline\n");
  EXPECT_EQ(LastTripleAngle(std::string(1000000, '<')), std::nullopt);
}

TEST(NumberMultiplyA, ExactDigitsAndProduct) {
  for (int s = 0; s < 200; ++s) {
    Instance inst = Gen("number_multiply", "1_3_20", s, 9);
    auto f = inst.data["factors"].get<std::vector<std::string>>();
    ASSERT_EQ(f.size(), 3u);
    size_t digits[] = {1, 3, 20};
    for (size_t i = 0; i < 3; ++i) {
      std::string mag = f[i][0] == '-' ? f[i].substr(1) : f[i];
      EXPECT_EQ(mag.size(), digits[i]) << f[i];
      EXPECT_NE(mag, "0");
      EXPECT_NE(mag, "1");
      EXPECT_NE(mag[0], '0');
    }
  }
  Instance inst = Gen("number_multiply", "3_3", 0, 0);
  inst.data = {{"factors", {"123", "-456"}}, {"product", "-56088"}};
  EXPECT_TRUE(Ok("number_multiply", inst, "<<<-56088>>>"));
  EXPECT_TRUE(Ok("number_multiply", inst, "so <<<-56,088>>>"));
  EXPECT_TRUE(Ok("number_multiply", inst, "<<< -56 088 >>>"));
  EXPECT_TRUE(Ok("number_multiply", inst, "<<<123*(-456) = -56088>>>"));
  EXPECT_FALSE(Ok("number_multiply", inst, "<<<56088>>>"));
  EXPECT_FALSE(Ok("number_multiply", inst, "<<<-560880>>>"));  // no substring match (defect 6)
  EXPECT_FALSE(Ok("number_multiply", inst, "<<<-5608>>>"));
  EXPECT_TRUE(Ok("number_multiply", inst, "The product is -56088."));  // fallback: last integer
  EXPECT_FALSE(Ok("number_multiply", inst, "<<<nan>>>"));
  EXPECT_FALSE(Ok("number_multiply", inst, "<<<" + std::string(100000, '9') + ">>>"));
  EXPECT_EQ(ReadInteger("+0012"), "12");
  EXPECT_EQ(ParseInt("9223372036854775807", 0, INT64_MAX), INT64_MAX);
  EXPECT_EQ(ParseInt("9999999999999999999", 0, INT64_MAX), std::nullopt);  // no overflow UB
  EXPECT_EQ(ParseInt("-9999999999999999999", INT64_MIN, 0), std::nullopt);
  EXPECT_EQ(ReadInteger("-0"), "0");
}

TEST(NumberMultiplyA, Complexity) {
  const Task& t = TaskNamed("number_multiply");
  EXPECT_TRUE(t.ValidateComplexity("40_40").ok());
  EXPECT_TRUE(t.ValidateComplexity("1_1_1_1_1_1_1_1_1_1").ok());
  EXPECT_FALSE(t.ValidateComplexity("5").ok());
  EXPECT_FALSE(t.ValidateComplexity("41_2").ok());
  EXPECT_FALSE(t.ValidateComplexity("0_2").ok());
  EXPECT_FALSE(t.ValidateComplexity("1_1_1_1_1_1_1_1_1_1_1").ok());
  Instance big = Gen("number_multiply", "20_20", 5, 5);
  EXPECT_GE(big.truth.size(), 39u);
}

Instance Game24(std::vector<int64_t> numbers) {
  Instance inst = Gen("game24", "4", 0, 0);
  inst.data["numbers"] = numbers;
  return inst;
}

TEST(Game24A, RationalAndNotations) {
  Instance inst = Game24({3, 3, 8, 8});
  EXPECT_TRUE(Ok("game24", inst, "<<<8/(3-8/3)>>>"));  // needs exact rationals (defect 7)
  EXPECT_TRUE(Ok("game24", inst, "<<<8 \\div (3 - 8 \\div 3) = 24>>>"));
  EXPECT_TRUE(Ok("game24", inst, "<<<8÷(3−8÷3)>>>"));
  EXPECT_TRUE(Ok("game24", inst, "<<<$\\frac{8}{3-\\frac{8}{3}} = 24$>>>"));
  EXPECT_TRUE(Ok("game24", inst, "<<<\\frac{8}{\\left(3-\\frac{8}{3}\\right)}>>>"));
  EXPECT_FALSE(Ok("game24", inst, "<<<8/(3-8/3) = 25>>>"));
  Instance b = Game24({4, 4, 6, 8});
  EXPECT_TRUE(Ok("game24", b, "<<<(4+8)×(6-4) = 24>>>"));
  EXPECT_TRUE(Ok("game24", b, "<<<(4+8) \\times (6-4)>>>"));
  EXPECT_TRUE(Ok("game24", b, "<<<(4+8) \\cdot (6-4)>>>"));
  EXPECT_TRUE(Ok("game24", b, "<<<(4+8)(6-4)>>>"));
  EXPECT_TRUE(Ok("game24", b, "<<<[(4+8)*(6-4)] = 12*2 = 24>>>"));
  EXPECT_TRUE(Ok("game24", b, "Answer: (4+8)*(6-4) = 24"));  // fallback: last line with '='
}

TEST(Game24A, Rejections) {
  Instance b = Game24({4, 4, 6, 8});
  auto reason = [&](const std::string& a) { return TaskNamed("game24").Check(b, a).reason; };
  EXPECT_NE(reason("<<<(8+8)*(6-4)>>>").find("exactly once"), std::string::npos);  // reused 8
  EXPECT_NE(reason("<<<(4+8)*(6-4)+0>>>").find("exactly once"), std::string::npos);
  EXPECT_NE(reason("<<<(4+8)*6>>>").find("exactly once"), std::string::npos);      // 4 missing
  EXPECT_NE(reason("<<<(4+8)*(6-4)^1>>>").find("unexpected"), std::string::npos);  // power
  EXPECT_NE(reason("<<<x*(4+8)*(6-4)>>>").find("unexpected"), std::string::npos);  // letters
  EXPECT_NE(reason("<<<4/(4-4)*6*8>>>").find("division by zero"), std::string::npos);
  EXPECT_NE(reason("<<<4.0*6>>>").find("non-integer"), std::string::npos);
  EXPECT_NE(reason("<<<4*6+8-8>>>").find("exactly once"), std::string::npos);
  EXPECT_NE(reason("<<<(4+8)*(6-4) = 48>>>").find("right side"), std::string::npos);
  EXPECT_NE(reason("<<<4+4+6+8>>>").find("not 24"), std::string::npos);
  EXPECT_NE(reason("no answer").find("no <<<"), std::string::npos);
  EXPECT_NE(reason("<<<" + std::string(5000, '(') + "4>>>").find("deep"), std::string::npos);
  EXPECT_NE(reason("<<<999999999999*999999999999*999999999*99999>>>").find("overflow"),
            std::string::npos);
}

TEST(Game24A, SolverAndData) {
  // Every row of every level is served (none dropped as unsolvable).
  const Task& g24 = TaskNamed("game24");
  EXPECT_EQ(g24.InstanceCount("4_classic"), 1362);
  EXPECT_EQ(g24.InstanceCount("2"), 1031);
  EXPECT_EQ(g24.InstanceCount("3"), 1291);
  EXPECT_EQ(g24.InstanceCount("4"), 4759);
  EXPECT_EQ(g24.InstanceCount("5"), 1264);
  EXPECT_EQ(g24.InstanceCount("6"), 2993);
  EXPECT_EQ(g24.InstanceCount("8"), 37);
  // A block of n consecutive samples visits every row once.
  std::set<std::string> seen;
  for (int64_t i = 0; i < 37; ++i) seen.insert(Gen("game24", "8", i + 37, 5).prompt);
  EXPECT_EQ(seen.size(), 37u);
  auto s = SolveArithmetic({3, 3, 8, 8}, Rational{24, 1}, 100000);
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(Ok("game24", Game24({3, 3, 8, 8}), "<<<" + *s + ">>>"));
  EXPECT_FALSE(SolveArithmetic({1, 1, 1, 1}, Rational{24, 1}, 100000).has_value());
  // puzzles_8 rank 32 lists an inexact solution; the loader must have replaced it.
  Instance inst = Game24({17, 41, 56, 63, 73, 77, 84, 99});
  EXPECT_FALSE(Ok("game24", inst, "<<<((41+(56/(63*(73*(77*(84+99))))))-17)>>>"));
  for (int64_t i = 0; i < TaskNamed("game24").InstanceCount("8"); ++i) {
    Instance g = Gen("game24", "8", i, 0);
    EXPECT_TRUE(Ok("game24", g, "<<<" + g.canonical_answer + ">>>")) << g.canonical_answer;
  }
}

TEST(LettersA, CountsAndPositions) {
  for (const std::string& level : TaskNamed("letters").complexity_levels()) {
    for (int s = 0; s < 20; ++s) {
      Instance inst = Gen("letters", level, s, 3);
      std::string word = inst.data["word"];
      char letter = inst.data["letter"].get<std::string>()[0];
      int lo = std::stoi(level), hi = std::stoi(level.substr(level.find('-') + 1));
      int f = std::stoi(level.substr(level.find('_') + 1));
      EXPECT_GE(static_cast<int>(word.size()), lo) << level;
      EXPECT_LT(static_cast<int>(word.size()), hi) << level;
      EXPECT_EQ(std::count(word.begin(), word.end(), letter), f) << level << " " << word;
    }
  }
  EXPECT_TRUE(Gen("letters", "5-10_1", 0, 0).data["real_word"].get<bool>());
  Instance inst = Gen("letters", "10-15_2", 0, 0);
  inst.data["positions"] = {3, 7};
  EXPECT_TRUE(Ok("letters", inst, "<<<Count: 2, Positions: [3, 7]>>>"));
  EXPECT_TRUE(Ok("letters", inst, "<<<count: 2, positions: [7,3]>>>"));
  EXPECT_TRUE(Ok("letters", inst, "Count: 2, Positions: [3, 7]"));
  EXPECT_FALSE(Ok("letters", inst, "<<<Count: 3, Positions: [3, 7]>>>"));
  EXPECT_FALSE(Ok("letters", inst, "<<<Count: 2, Positions: [3, 8]>>>"));
  EXPECT_FALSE(Ok("letters", inst, "<<<Count: 2, Positions: [3, 7, 9]>>>"));
  EXPECT_FALSE(Ok("letters", inst, "<<<Count: 2, Positions: [a, b]>>>"));
  EXPECT_FALSE(Ok("letters", inst, "<<<2>>>"));
}

TEST(BlocksworldA, SimulationAndTable) {
  Instance inst = Gen("blocksworld", "3_3_2", 0, 0);
  inst.data = {{"initial", {"AB", "C", ""}}, {"goal", {"BA", "C", ""}}};
  const char* good =
      "<<<\nMove B from stack1 to stack3\nMove A from stack1 to stack2\n"
      "Move B from stack3 to stack1\nMove A from stack2 to stack1\n>>>";
  EXPECT_TRUE(Ok("blocksworld", inst, good));
  EXPECT_TRUE(Ok("blocksworld", inst,
                 "<<<Move B from 1 to 3\nMove A from 1 to 2\n1. Move B from "
                 "3 to 1\nmove a from Stack2 to stack1.>>>"));
  auto reason = [&](const std::string& a) {
    return TaskNamed("blocksworld").Check(inst, a).reason;
  };
  EXPECT_NE(reason("<<<Move B from stack1 to table>>>").find("table"), std::string::npos);
  EXPECT_NE(reason("<<<Move A from stack1 to stack2>>>").find("not on top"), std::string::npos);
  EXPECT_NE(reason("<<<Move B from stack1 to stack9>>>").find("unknown stack"), std::string::npos);
  EXPECT_NE(reason("<<<Move B from stack1 to stack3>>>").find("differ"), std::string::npos);
  EXPECT_NE(reason("<<<Put B on A>>>").find("form"), std::string::npos);
  Instance real = Gen("blocksworld", "4_5_4", 1, 1);
  size_t no_table = real.prompt.find("There is no table");  // defect 9: no "table" example
  ASSERT_NE(no_table, std::string::npos);
  EXPECT_EQ(real.prompt.rfind("table"), no_table + 12);
  EXPECT_NE(real.data["initial"], real.data["goal"]);
  EXPECT_FALSE(TaskNamed("blocksworld").ValidateComplexity("3_2_2").ok());  // < 3 stacks
  EXPECT_FALSE(TaskNamed("blocksworld").ValidateComplexity("3_3_4").ok());  // G > S
  EXPECT_TRUE(Ok("blocksworld", Gen("blocksworld", "12_6_6", 4, 4),
                 "<<<" + Gen("blocksworld", "12_6_6", 4, 4).canonical_answer + ">>>"));
}

TEST(BbhA, OptionsYesNoAndIncorrect) {
  Instance mc = ItemWithId("bbh_date_understanding", "date_understanding-0");  // target (B)
  ASSERT_EQ(mc.truth, "(B)");
  for (const char* a : {"<<<(B)>>>", "<<<B>>>", "<<<B)>>>", "<<<(B) 12/25/1937>>>", "<<<b>>>",
                        "<<<12/25/1937>>>", "<<<**(B)**>>>", "the answer is (B)"}) {
    EXPECT_TRUE(Ok("bbh_date_understanding", mc, a)) << a;
  }
  for (const char* a :
       {"<<<(A)>>>", "<<<Incorrect>>>", "<<<>>>", "<<<(Z)>>>", "<<<12/25/2006>>>"}) {
    EXPECT_FALSE(Ok("bbh_date_understanding", mc, a)) << a;
  }
  Instance yn = ItemWithId("bbh_web_of_lies", "web_of_lies-0");  // target No
  ASSERT_EQ(yn.truth, "No");
  EXPECT_TRUE(Ok("bbh_web_of_lies", yn, "<<<No>>>"));
  EXPECT_TRUE(Ok("bbh_web_of_lies", yn, "<<<no.>>>"));
  EXPECT_TRUE(Ok("bbh_web_of_lies", yn, "So, no."));
  EXPECT_FALSE(Ok("bbh_web_of_lies", yn, "<<<Yes>>>"));
  EXPECT_FALSE(Ok("bbh_web_of_lies", yn, "<<<Incorrect>>>"));  // defect 4
  EXPECT_FALSE(Ok("bbh_web_of_lies", yn, "<<<Correct>>>"));
  EXPECT_FALSE(Ok("bbh_web_of_lies", yn, "<<<Nobody>>>"));
  EXPECT_EQ(TaskNamed("bbh_navigate").InstanceCount(""), 250);
  EXPECT_EQ(Gen("bbh_navigate", "", 250, 0).prompt, Gen("bbh_navigate", "", 0, 0).prompt);
  EXPECT_FALSE(TaskNamed("bbh_navigate").ValidateComplexity("1").ok());
}

TEST(GsmHardA, Tolerance) {
  Instance inst = Gen("gsm_hard", "", 0, 0);
  inst.data["targets"] = {"5186630.5999999996"};
  EXPECT_TRUE(Ok("gsm_hard", inst, "<<<5186630.6>>>"));
  EXPECT_TRUE(Ok("gsm_hard", inst, "<<<$5,186,630.60>>>"));
  EXPECT_TRUE(Ok("gsm_hard", inst, "<<<5.1866e6>>>"));
  EXPECT_TRUE(Ok("gsm_hard", inst, "<<<5190000>>>"));  // within 1e-3 relative
  EXPECT_FALSE(Ok("gsm_hard", inst, "<<<5200000>>>"));
  EXPECT_FALSE(Ok("gsm_hard", inst, "<<<-5186630.6>>>"));
  EXPECT_FALSE(Ok("gsm_hard", inst, "<<<inf>>>"));
  EXPECT_FALSE(Ok("gsm_hard", inst, "<<<1e999>>>"));
  inst.data["targets"] = {"0"};
  EXPECT_TRUE(Ok("gsm_hard", inst, "<<<0>>>"));
  EXPECT_FALSE(Ok("gsm_hard", inst, "<<<0.001>>>"));
  inst.data["targets"] = {"0.75"};
  EXPECT_TRUE(Ok("gsm_hard", inst, "<<<3/4>>>"));
  EXPECT_TRUE(Ok("gsm_hard", inst, "The answer is 0.75"));
}

TEST(MathA, Equivalence) {
  EXPECT_TRUE(MathEquivalent("\\frac{1}{2}", "\\dfrac12"));
  EXPECT_TRUE(MathEquivalent("0.5", "\\frac{1}{2}"));
  EXPECT_TRUE(MathEquivalent("1/2", "\\tfrac{1}{2}"));
  EXPECT_TRUE(MathEquivalent("2\\sqrt{3}", "\\sqrt{12}"));
  EXPECT_TRUE(MathEquivalent("3.4641016151377544", "2\\sqrt3"));
  EXPECT_TRUE(MathEquivalent("18\\pi", "18 \\pi"));
  EXPECT_TRUE(MathEquivalent("56.548667764616276", "18\\pi"));
  EXPECT_TRUE(MathEquivalent("30", "30^\\circ"));
  EXPECT_TRUE(MathEquivalent("30 degrees", "30^{\\circ}"));
  EXPECT_TRUE(MathEquivalent("25\\%", "25"));
  EXPECT_TRUE(MathEquivalent("10 \\text{ square units}", "10"));
  EXPECT_TRUE(MathEquivalent("$(18, -18)$", "(18,-18)"));
  EXPECT_TRUE(MathEquivalent("(\\frac{1}{2}, 3)", "(0.5,3)"));
  EXPECT_TRUE(MathEquivalent("x = 5", "5"));
  EXPECT_TRUE(MathEquivalent("10,000", "10000"));
  EXPECT_TRUE(MathEquivalent("\\text{(C)}", "(C)"));
  EXPECT_TRUE(MathEquivalent("\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt3}{2}"));
  EXPECT_FALSE(MathEquivalent("1000", "1001"));
  EXPECT_FALSE(MathEquivalent("0.333", "\\frac13"));
  EXPECT_FALSE(MathEquivalent("(18,-18)", "(-18,18)"));
  EXPECT_FALSE(MathEquivalent("[1,2)", "(1,2)"));
  EXPECT_FALSE(MathEquivalent("3.14", "\\pi"));
  EXPECT_EQ(LastBoxed("a \\boxed{1} b \\boxed{\\frac{1}{2}} c"), "\\frac{1}{2}");
  EXPECT_EQ(LastBoxed("\\boxed{x} \\boxed{unclosed"), "x");
  Instance inst = Gen("math_geometry", "5", 0, 0);
  EXPECT_TRUE(Ok("math_geometry", inst, "Thus \\boxed{" + inst.truth + "}."));
  EXPECT_TRUE(Ok("math_geometry", inst, "<<<\\boxed{" + inst.truth + "}>>>"));
  EXPECT_FALSE(Ok("math_geometry", inst, "<<<Incorrect>>>"));
  EXPECT_FALSE(TaskNamed("math_geometry").ValidateComplexity("6").ok());
  EXPECT_EQ(TaskNamed("math_counting_and_probability").InstanceCount("1"), 50);
  EXPECT_EQ(TaskNamed("math_geometry").InstanceCount("5"), 421);
}

}  // namespace
}  // namespace codesweep::testing_a
