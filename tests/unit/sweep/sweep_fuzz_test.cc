// Seeded, bounded fuzzing of sweep files (issue 20): mutated and spliced files must either parse
// or give an InvalidArgument that starts with "file:line" or "file:" — never a crash, a hang or
// an exception. Bounded by iteration count, not by time.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/hash.h"
#include "coordinator/sweep/grid.h"
#include "coordinator/sweep/sweep_file.h"
#include "tests/unit/sweep/fake_task.h"

namespace codesweep {
namespace {

constexpr const char* kSeedFile = R"(name = "fuzz"
seed = 7
samples = 3
max_attempts = 2
methods = ["only_question", "all_code"]
turns = [1, 2]

[[tasks]]
name = "fake"
complexity = ["1", "2"]
samples = 2

[models."sim:a"]
p_correct = 0.5

[models."openai:gpt-4o"]
temperature = 0.3
max_tokens = 100
stop = ["END"]
rpm = 500
base_url = "http://127.0.0.1:1/v1"
extra_body = { a = { b = [1, 2, { c = "d" }] } }

[sandbox]
wall_ms = 5000
memory_bytes = 268435456
)";

// Fragments that stress the grammar and our checks: nesting, quoting, numbers at the edges.
const char* kPieces[] = {"[",
                         "]",
                         "{",
                         "}",
                         "[[",
                         "]]",
                         ".",
                         "=",
                         "\"",
                         "'",
                         "\"\"\"",
                         "'''",
                         "#",
                         "\n",
                         ",",
                         " = ",
                         "a.b.c",
                         "9223372036854775807",
                         "-9223372036854775808",
                         "1e400",
                         "nan",
                         "inf",
                         "-0",
                         "0x7f",
                         "1979-05-27",
                         "true",
                         "\\u0000",
                         "\\",
                         "\xff\xfe",
                         "\xc3",
                         "[models.\"sim:x\"]",
                         "[sandbox]",
                         "[[tasks]]",
                         "methods",
                         "complexity",
                         "samples",
                         "wall_ms",
                         "\"sim:b\"",
                         "\r\n",
                         "\t"};

std::string Mutate(Rng& rng, std::string s) {
  int edits = static_cast<int>(rng.Uniform(1, 6));
  for (int e = 0; e < edits; ++e) {
    size_t pos = static_cast<size_t>(rng.Uniform(0, static_cast<int64_t>(s.size())));
    switch (rng.Uniform(0, 4)) {
      case 0:  // flip a byte
        if (!s.empty()) s[pos % s.size()] = static_cast<char>(rng.Uniform(0, 255));
        break;
      case 1:  // delete a span
        s.erase(pos, static_cast<size_t>(rng.Uniform(1, 40)));
        break;
      case 2:  // insert a piece
        s.insert(pos, kPieces[rng.Uniform(0, std::size(kPieces) - 1)]);
        break;
      case 3: {  // repeat a piece many times (deep or long structures)
        std::string piece = kPieces[rng.Uniform(0, std::size(kPieces) - 1)];
        std::string run;
        for (int64_t i = rng.Uniform(10, 3000); i > 0; --i) run += piece;
        s.insert(pos, run);
        break;
      }
      default: {  // duplicate a span of the file elsewhere (tables defined twice, ...)
        size_t from = static_cast<size_t>(rng.Uniform(0, static_cast<int64_t>(s.size())));
        s.insert(pos, s.substr(from, static_cast<size_t>(rng.Uniform(1, 120))));
        break;
      }
    }
  }
  return s;
}

TEST(SweepFuzzTest, MutatedFilesParseOrFailClearly) {
  TaskRegistry registry;
  registry.Add(std::make_unique<FakeTask>());
  ASSERT_TRUE(ParseSweep(kSeedFile, "fuzz.toml", registry).ok());
  Rng rng(20);
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text = Mutate(rng, kSeedFile);
    Result<SweepConfig> c = ParseSweep(text, "fuzz.toml", registry);
    if (c.ok()) {
      ++accepted;
      // What parses must also expand and serialize.
      EXPECT_GT(GridSize(*c), 0);
      EXPECT_FALSE(SweepConfigJson(*c).empty());
      continue;
    }
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument) << c.status().ToString();
    EXPECT_EQ(c.status().message().rfind("fuzz.toml:", 0), 0u) << c.status().message();
  }
  EXPECT_GT(accepted, 0);  // the mutations are not all fatal: the fuzzer reaches our checks
  EXPECT_LT(accepted, 3000);
}

}  // namespace
}  // namespace codesweep
