// Every task's verdict is valid UTF-8 whatever the answer: checkers that shorten the parsed
// answer or the reason cut at character boundaries (game24, gsm_hard and bbh cut inside
// multi-byte characters before), and invalid bytes from a model never come back invalid... at
// least not from a cut; the store repairs what arrives invalid (store_utf8_test).
#include <gtest/gtest.h>

#include <string>

#include "base/utf8.h"
#include "tests/unit/tasks/a_test_util.h"

namespace codesweep {
namespace {

std::string Repeat(const std::string& s, size_t times) {
  std::string out;
  for (size_t i = 0; i < times; ++i) out += s;
  return out;
}

TEST(Utf8Verdicts, NoTaskCutsInsideACharacter) {
  // Multi-byte answers of every length around the checkers' limits, each shift of the boundary.
  const std::vector<std::string> pieces = {"\xC3\x97", "\xC3\xB7", "\xE4\xB8\xAD", "\xEF\xBF\xBD",
                                           "\xF0\x9F\x98\x80"};
  for (const auto& task : testing_a::Registry().tasks()) {
    const std::vector<std::string> levels = task->complexity_levels();
    Result<Instance> inst = task->Generate(levels.empty() ? "" : levels.front(), 0, 7);
    ASSERT_TRUE(inst.ok()) << task->name() << ": " << inst.status().message();
    for (const std::string& piece : pieces) {
      for (size_t shift = 0; shift < 4; ++shift) {
        for (size_t n : {10, 50, 70, 100, 200, 300}) {
          const std::string body = std::string(shift, '1') + Repeat(piece, n);
          for (const std::string& answer : {"<<<" + body + ">>>", body, "Yes " + body + " No"}) {
            Verdict v = task->Check(*inst, answer);
            EXPECT_TRUE(IsValidUtf8(v.parsed)) << task->name() << " parsed of " << answer.size();
            EXPECT_TRUE(IsValidUtf8(v.reason)) << task->name() << " reason of " << answer.size();
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace codesweep
