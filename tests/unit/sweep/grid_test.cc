// Grid expansion: size, order and determinism of cell keys; what changes a key and what does not.
#include "coordinator/grid.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/unit/sweep/fake_task.h"

namespace codesweep {
namespace {

class GridTest : public ::testing::Test {
 protected:
  GridTest() { registry_.Add(std::make_unique<FakeTask>()); }
  SweepConfig Parse(const std::string& text) {
    auto c = ParseSweep(text, "g.toml", registry_);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? *c : SweepConfig{};
  }
  std::vector<std::string> Keys(const SweepConfig& c) {
    std::vector<std::string> keys;
    ForEachCell(c, [&](const GridCell& g) {
      keys.push_back(g.cell.value());
      return true;
    });
    return keys;
  }
  TaskRegistry registry_;
};

constexpr const char* kBase = R"(
name = "g"
seed = 1
samples = 4
methods = ["only_question", "all_code"]
[[tasks]]
name = "fake"
complexity = ["1", "2"]
[models."sim:a"]
p_correct = 0.5
[models."openai:m"]
base_url = "http://127.0.0.1:1/v1"
)";

TEST_F(GridTest, SizeMatchesEnumeration) {
  SweepConfig c = Parse(kBase);
  auto keys = Keys(c);
  EXPECT_EQ(GridSize(c), 2 * 4 * 2 * 2);
  EXPECT_EQ(static_cast<int64_t>(keys.size()), GridSize(c));
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), keys.size());
}

TEST_F(GridTest, KeysAreDeterministic) { EXPECT_EQ(Keys(Parse(kBase)), Keys(Parse(kBase))); }

TEST_F(GridTest, TransportSettingsDoNotChangeKeys) {
  std::string other = kBase;
  other.replace(other.find("http://127.0.0.1:1/v1"), 21, "http://10.0.0.1:99/v1");
  other += "api_key_env = \"OTHER_KEY\"\n";
  EXPECT_EQ(Keys(Parse(kBase)), Keys(Parse(other)));
}

TEST_F(GridTest, OutputSettingsChangeKeys) {
  auto base = Keys(Parse(kBase));
  for (std::string edit : {std::string("temperature = 0.5\n"), std::string("max_tokens = 10\n")}) {
    auto keys = Keys(Parse(std::string(kBase) + edit));
    EXPECT_NE(base, keys) << edit;
  }
  std::string seed = kBase;
  seed.replace(seed.find("seed = 1"), 8, "seed = 2");
  auto seed_keys = Keys(Parse(seed));
  for (size_t i = 0; i < base.size(); ++i) EXPECT_NE(base[i], seed_keys[i]);
}

TEST_F(GridTest, AddingSamplesKeepsOldCells) {
  auto base = Keys(Parse(kBase));
  std::string more = kBase;
  more.replace(more.find("samples = 4"), 11, "samples = 6");
  auto bigger = Keys(Parse(more));
  std::set<std::string> all(bigger.begin(), bigger.end());
  for (const auto& k : base) EXPECT_TRUE(all.count(k)) << k;
  EXPECT_EQ(bigger.size(), base.size() * 6 / 4);
}

TEST_F(GridTest, TurnsApplyOnlyToMultiTurnMethods) {
  std::string text = kBase;
  text.replace(text.find("methods"), 0, "turns = [1, 2, 4]\n");
  SweepConfig c = Parse(text);
  std::set<std::pair<std::string, int>> seen;
  ForEachCell(c, [&](const GridCell& g) {
    seen.insert({g.method, g.turns});
    return true;
  });
  EXPECT_TRUE(seen.count({"only_question", 4}));
  EXPECT_EQ(GridSize(c), static_cast<int64_t>(2 * 4 * 2 * (3 + 3)));
}

TEST_F(GridTest, SkippedMethodsLeaveNoCells) {
  SweepConfig c = Parse(std::string(kBase) + "skip_methods = [\"all_code\"]\n");
  int64_t n = 0;
  ForEachCell(c, [&](const GridCell& g) {
    ++n;
    EXPECT_FALSE(c.models[g.model_index].spec.id == "openai:m" && g.method == "all_code");
    return true;
  });
  EXPECT_EQ(n, GridSize(c));
  EXPECT_EQ(n, 2 * 4 * 3);
}

TEST_F(GridTest, TransportKeysAreDropped) {
  ModelSpec m;
  m.options_json = R"({"base_url":"x","api_key_env":"K","headers":{"a":"b"},"z":1,"a":2})";
  EXPECT_EQ(OutputAffectingOptions(m), R"({"a":2,"z":1})");
}

}  // namespace
}  // namespace codesweep
