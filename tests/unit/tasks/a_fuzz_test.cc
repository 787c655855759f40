// Seeded, bounded fuzzing of the part-A checkers: hostile and random answers must always get a
// verdict with a reason (no crash, no hang, no exception), and never be judged correct by accident.
#include <gtest/gtest.h>

#include "base/hash.h"
#include "jobs/tasks/answer_math.h"
#include "jobs/tasks/answer_number.h"
#include "jobs/tasks/rational_expr.h"
#include "tests/unit/tasks/a_test_util.h"

namespace codesweep::testing_a {
namespace {

const char* kTasks[] = {"number_multiply",
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

const char* kPieces[] = {"<<<",       ">>>",        "(",       ")",      "[",
                         "]",         "{",          "}",       "\\frac", "\\boxed{",
                         "\\sqrt",    "\\left(",    "\\times", "÷",      "×",
                         "−",         "=",          "/",       "*",      "+",
                         "-",         "24",         "8",       "3",      "0",
                         "1e308",     "nan",        "inf",     "-inf",   "NaN",
                         "Count:",    "Positions:", ",",       "Move",   "A",
                         "from",      "to",         "stack1",  "stack2", "table",
                         "\n",        " ",          "Yes",     "No",     "(A)",
                         "Incorrect", "\xff\xfe",   "\xc3",    "\x00",   "99999999999999999999",
                         ".",         "^",          "\\pi",    "%",      "$",
                         "\\text{",   "e"};

std::vector<std::string> Hostile() {
  std::vector<std::string> out = {
      "", "<<<>>>", "<<<", ">>>", "<<<<<<>>>>>>", "\xff\xfe\xfd", std::string("\0\0<<<\0>>>", 10)};
  out.push_back(std::string(10 << 20, 'x'));
  out.push_back(std::string(10 << 20, '<'));
  out.push_back(std::string(10 << 20, '9'));
  out.push_back("<<<" + std::string(1 << 20, '(') + "24" + std::string(1 << 20, ')') + ">>>");
  out.push_back("<<<" + std::string(1 << 20, '{') + ">>>");
  std::string boxes;
  for (int i = 0; i < 100000; ++i) boxes += "\\boxed{";
  out.push_back(boxes);
  std::string counts;
  for (int i = 0; i < 200000; ++i) counts += "Count: 1, Positions: [";
  out.push_back(counts);
  std::string moves = "<<<";
  for (int i = 0; i < 100000; ++i) moves += "Move A from stack1 to stack2\nMove A from 2 to 1\n";
  out.push_back(moves + ">>>");
  std::string fracs;
  for (int i = 0; i < 100000; ++i) fracs += "1/";
  out.push_back(fracs + "1");
  for (const char* s : {"<<<nan>>>", "<<<inf>>>", "<<<-inf>>>", "<<<1e309>>>", "<<<0/0>>>",
                        "<<<1/0>>>", "<<<-0>>>", "<<<\\frac{1}{0}>>>", "<<<\\sqrt{-1}>>>"}) {
    out.push_back(s);
  }
  return out;
}

TEST(FuzzA, HostileAnswersGetVerdicts) {
  std::vector<std::string> hostile = Hostile();
  for (const char* name : kTasks) {
    const Task& t = TaskNamed(name);
    std::vector<std::string> levels = t.complexity_levels();
    auto inst = t.Generate(levels.empty() ? "" : levels[levels.size() / 2], 1, 1);
    ASSERT_TRUE(inst.ok()) << name;
    for (const std::string& h : hostile) {
      Verdict v = t.Check(*inst, h);
      EXPECT_FALSE(v.correct) << name << " accepted hostile input of size " << h.size();
      EXPECT_FALSE(v.reason.empty()) << name;
      EXPECT_LE(v.parsed.size(), 1000u) << name;
    }
  }
}

TEST(FuzzA, RandomTokenSoup) {
  Rng rng(20240601);
  constexpr int kRounds = 400;
  for (const char* name : kTasks) {
    const Task& t = TaskNamed(name);
    std::vector<std::string> levels = t.complexity_levels();
    for (int r = 0; r < kRounds; ++r) {
      std::string level = levels.empty() ? "" : levels[rng.Uniform(0, levels.size() - 1)];
      auto inst = t.Generate(level, rng.Uniform(0, 1000), rng.Next());
      ASSERT_TRUE(inst.ok());
      std::string s;
      int n = static_cast<int>(rng.Uniform(0, 60));
      for (int k = 0; k < n; ++k) {
        if (rng.Bernoulli(0.1)) {
          s += static_cast<char>(rng.Uniform(0, 255));
        } else {
          s += kPieces[rng.Uniform(0, std::size(kPieces) - 1)];
        }
      }
      // Mutate the canonical answer too: it must never crash, and usually it stops passing.
      std::string mutated = "<<<" + inst->canonical_answer + ">>>";
      if (!mutated.empty())
        mutated[rng.Uniform(0, mutated.size() - 1)] = static_cast<char>(rng.Uniform(0, 255));
      for (const std::string& a : {s, mutated}) {
        Verdict v = t.Check(*inst, a);
        EXPECT_FALSE(v.reason.empty()) << name;
        EXPECT_TRUE(v.score == 0.0 || v.score == 1.0) << name;
        EXPECT_EQ(v.correct, v.score == 1.0) << name;
      }
    }
  }
}

TEST(FuzzA, ParsersDirectly) {
  Rng rng(7);
  for (int r = 0; r < 3000; ++r) {
    std::string s;
    int n = static_cast<int>(rng.Uniform(0, 40));
    for (int k = 0; k < n; ++k) s += kPieces[rng.Uniform(0, std::size(kPieces) - 1)];
    (void)EvaluateExpression(s);
    (void)MathEquivalent(s, "\\frac{1}{2}");
    (void)EvaluateMath(NormalizeMathAnswer(s));
    (void)ReadLastNumber(s);
    (void)ReadInteger(s);
    (void)LastBoxed(s);
  }
}

}  // namespace
}  // namespace codesweep::testing_a
