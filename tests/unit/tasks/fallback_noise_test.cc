// Checkers do not reward noise: every task's fallback (the answer read when a reply has no
// <<<>>>) is fed seeded random and adversarial text (garbage bytes, control characters, random
// words, lists of all the options, the question echoed back) and must call fewer than 1 % of
// them correct. Issue 19 §5: "the last standalone yes/no word" scored random text as correct.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "base/hash.h"
#include "jobs/tasks/common.h"
#include "tests/unit/tasks/a_test_util.h"

namespace codesweep::testing_a {
namespace {

constexpr const char* kWords[] = {
    "the",  "answer", "is",     "so",    "we",     "yes",   "no",    "not",   "step",  "left",
    "true", "false",  "lies",   "tells", "truth",  "then",  "final", "thus",  "count", "move",
    "a",    "of",     "to",     "and",   "option", "maybe", "it",    "seems", "date",  "first",
    "last", "box",    "number", "24",    "3",      "17",    "0",     "=",     "+",     "(",
    ")",    "[",      "]",      "*",     "-",      ".",     ",",     ":",     "\n",    "\n"};

std::string RandomBytes(Rng& rng) {
  std::string s(static_cast<size_t>(rng.Uniform(0, 300)), '\0');
  for (char& c : s) c = static_cast<char>(rng.Uniform(0, 255));
  return s;
}

std::string RandomWords(Rng& rng) {
  std::string s;
  const int64_t n = rng.Uniform(1, 120);
  const int64_t count = static_cast<int64_t>(std::size(kWords));
  for (int64_t i = 0; i < n; ++i) {
    s += kWords[rng.Uniform(0, count - 1)];
    s += rng.Bernoulli(0.05) ? std::string(1, static_cast<char>(rng.Uniform(0, 31))) : " ";
  }
  return s;
}

// Text that names every option: the lists a model writes while it weighs them, and the
// question echoed back (whose last line is the last option).
std::vector<std::string> OptionLists(const Instance& inst) {
  // The question: the prompt without its last line (the format instruction).
  std::string input = inst.prompt.substr(0, inst.prompt.rfind('\n'));
  std::vector<std::string> out = {"Yes or No",
                                  "Options:\n- Yes\n- No",
                                  "The answer is either yes or no.",
                                  "yes no yes no",
                                  "Is it yes? Or is it no?",
                                  "(A) (B) (C) (D) (E) (F) (G)",
                                  "(A)\n(B)\n(C)\n(D)\n(E)\n(F)\n(G)",
                                  "It could be (A), (B), (C), (D), (E), (F) or (G).",
                                  "Not (A). Not (B). Not (C). Maybe (D) or (E) or (F) or (G)."};
  if (!input.empty()) {
    out.push_back(input);
    out.push_back(input + "\n");
    out.push_back("Let me restate the question.\n" + input);
  }
  return out;
}

// The fraction of noise texts the checker of `task` calls correct, over `instances` instances.
double FalsePositiveRate(const Task& task, int instances, int per_instance, uint64_t seed) {
  std::vector<std::string> levels = task.complexity_levels();
  if (levels.empty()) levels.push_back("");
  Rng rng(seed);
  int64_t total = 0, accepted = 0;
  for (int i = 0; i < instances; ++i) {
    const std::string& level = levels[static_cast<size_t>(i) % levels.size()];
    Result<Instance> inst = task.Generate(level, i, seed);
    EXPECT_TRUE(inst.ok()) << task.name() << ": " << inst.status().ToString();
    if (!inst.ok()) continue;
    std::vector<std::string> texts = OptionLists(*inst);
    for (int k = 0; k < per_instance; ++k) {
      texts.push_back(k % 3 == 0 ? RandomBytes(rng) : RandomWords(rng));
    }
    for (const std::string& text : texts) {
      // Only the fallback is measured: a text with <<<>>> is not noise for it.
      if (LastTripleAngle(text)) continue;
      ++total;
      if (task.Check(*inst, text).correct) ++accepted;
    }
  }
  return total == 0 ? 0.0 : static_cast<double>(accepted) / static_cast<double>(total);
}

TEST(FallbackNoise, EveryTaskRejectsNoise) {
  for (const auto& task : Registry().tasks()) {
    double rate = FalsePositiveRate(*task, 40, 40, 19);
    EXPECT_LT(rate, 0.01) << task->name() << ": " << 100 * rate << " % of noise judged correct";
  }
}

// The cases the old Yes/No and option-letter fallbacks accepted (the last yes/no word, the last
// "(X)" anywhere) are each rejected now, whatever the target.
TEST(FallbackNoise, OptionListsAndEchoesAreNotAnswers) {
  for (const char* name : {"bbh_web_of_lies", "bbh_navigate", "bbh_date_understanding",
                           "bbh_logical_deduction_seven_objects"}) {
    const Task& task = TaskNamed(name);
    for (int s = 0; s < 20; ++s) {
      Result<Instance> inst = task.Generate("", s, 0);
      ASSERT_TRUE(inst.ok());
      for (const std::string& text : OptionLists(*inst)) {
        EXPECT_FALSE(task.Check(*inst, text).correct) << name << " sample " << s << ": " << text;
      }
    }
  }
}

}  // namespace
}  // namespace codesweep::testing_a
