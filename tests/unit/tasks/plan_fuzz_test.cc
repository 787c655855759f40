// Hostile answers for the three planning checkers: a seeded, bounded fuzz plus fixed nasties
// (empty, 10 MB, invalid UTF-8, deep nesting, NaN/inf, huge numbers, wrong JSON types).
// Every call must return a verdict with a reason; none may crash, hang or accept garbage.
#include <gtest/gtest.h>

#include "base/hash.h"
#include "jobs/tasks/factories.h"

namespace codesweep {
namespace {

std::vector<std::pair<std::unique_ptr<Task>, Instance>> Subjects() {
  std::vector<std::pair<std::unique_ptr<Task>, Instance>> out;
  auto add = [&](std::unique_ptr<Task> t, const std::string& level) {
    auto inst = t->Generate(level, 3, 5);
    EXPECT_TRUE(inst.ok());
    out.emplace_back(std::move(t), std::move(inst).value());
  };
  add(MakeBoxLiftTask(), "15_4");
  add(MakeBoxNetTask(), "2x4");
  auto pp = MakePathPlanTask(DefaultDataDir());
  EXPECT_TRUE(pp.ok());
  if (pp.ok()) add(std::move(pp).value(), "");
  return out;
}

std::vector<std::string> Nasties() {
  std::vector<std::string> v = {"",
                                "<<<>>>",
                                "<<<",
                                ">>>",
                                "<<<[>>>",
                                "[",
                                "]",
                                "[]",
                                "[[]]",
                                "\xff\xfe\xfd",
                                "<<<\xc3\x28 Step 1: [(1, [0])]>>>",
                                std::string("<<<[\0(1,2)]>>>", 14)};
  v.push_back("<<<" + std::string(10 << 20, 'A') + ">>>");
  v.push_back(std::string(10 << 20, '['));
  v.push_back("<<<" + std::string(100000, '[') + std::string(100000, ']') + ">>>");
  v.push_back("<<<" + std::string(100000, '{') + ">>>");
  for (const char* num : {"nan", "NaN", "inf", "-inf", "1e999", "-1e999", "1e-999",
                          "99999999999999999999999999", "0x10", "1e", "--1", ".", "+.e5"}) {
    std::string n(num);
    v.push_back("<<<[(" + n + ", " + n + "), (1.3, 1.3)]>>>");
    v.push_back("<<<Step 1: [(" + n + ", [" + n + "])]>>>");
    v.push_back("<<<[{\"Agent[" + n + ", 0.5]\": \"move(box_red, square[" + n + ", 1.5])\"}]>>>");
  }
  for (const char* json : {"{}", "null", "1", "\"x\"", "[1, 2]", "[null]", "[{\"a\": []}]",
                           "[{\"Agent[0.5, 0.5]\": {\"x\": 1}}]", "[{\"Agent[0.5, 0.5]\": null}]",
                           "[[{\"Agent[0.5, 0.5]\": \"move(box_red, target_red)\"}]]"}) {
    v.push_back(std::string("<<<") + json + ">>>");
  }
  v.push_back("<<<Step 1: [(50, [" + std::string(200000, '1') + "])]>>>");
  v.push_back("<<<Step" + std::string(300000, ':') + ">>>");
  std::string many = "<<<";
  for (int i = 0; i < 200000; ++i) many += "Step 1: []\n";
  v.push_back(many + ">>>");
  return v;
}

TEST(PlanFuzzTest, FixedNastiesGetAReasonAndAreRejected) {
  for (auto& [task, inst] : Subjects()) {
    for (const auto& answer : Nasties()) {
      Verdict v = task->Check(inst, answer);
      EXPECT_FALSE(v.correct) << task->name() << " accepted " << answer.substr(0, 80);
      EXPECT_FALSE(v.reason.empty()) << task->name();
      EXPECT_LE(v.parsed.size(), 210u);
      EXPECT_GE(v.score, 0.0);
      EXPECT_LE(v.score, 1.0);
    }
  }
}

// Random mutations of the canonical answer: byte flips, insertions from an alphabet of
// structural characters, truncations and duplications.
TEST(PlanFuzzTest, SeededMutationsNeverCrash) {
  const std::string alphabet = "[](){}<>,:.-+0123456789eE\"' \n\xff_abAgentStepmovebox";
  Rng rng(Sha256U64("plan_fuzz"));
  for (auto& [task, inst] : Subjects()) {
    const std::string base = "<<<" + inst.canonical_answer + ">>>";
    int accepted = 0;
    for (int i = 0; i < 3000; ++i) {
      std::string s = base;
      int edits = static_cast<int>(rng.Uniform(1, 6));
      for (int e = 0; e < edits && !s.empty(); ++e) {
        size_t pos = static_cast<size_t>(rng.Uniform(0, static_cast<int64_t>(s.size()) - 1));
        switch (rng.Uniform(0, 3)) {
          case 0:
            s[pos] = alphabet[rng.Uniform(0, alphabet.size() - 1)];
            break;
          case 1:
            s.insert(pos, 1, alphabet[rng.Uniform(0, alphabet.size() - 1)]);
            break;
          case 2:
            s.resize(pos);
            break;
          default:
            s.insert(pos, s.substr(pos, rng.Uniform(1, 40)));
            break;
        }
      }
      Verdict v = task->Check(inst, s);
      EXPECT_FALSE(v.reason.empty());
      EXPECT_GE(v.score, 0.0);
      EXPECT_LE(v.score, 1.0);
      accepted += v.correct;
    }
    // Most mutations break the plan; the checker must notice (some edits are harmless).
    EXPECT_LT(accepted, 2400) << task->name();
  }
}

}  // namespace
}  // namespace codesweep
