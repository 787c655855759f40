// Grid expansion: size, order and determinism of cell keys; what changes a key and what does not.
#include "coordinator/sweep/grid.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
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

// validate states the grid and database size, and run/coordinator refuse past --max-cells.
TEST_F(GridTest, GridLimitNamesCellsDatabaseAndFlag) {
  SweepConfig c = Parse(kBase);
  GridNeeds needs = EstimateNeeds(c);
  EXPECT_EQ(needs.cells, GridSize(c));
  EXPECT_EQ(needs.db_bytes, needs.cells * kDbBytesPerCell);
  EXPECT_TRUE(CheckGridSize(c, needs.cells).ok());
  Status s = CheckGridSize(c, needs.cells - 1);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("g.toml: the grid has " + FormatCount(needs.cells) + " cells"),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("--max-cells"), std::string::npos);
  EXPECT_NE(s.message().find("database would need about"), std::string::npos);
}

// A grid too large for int64 used to wrap around (negative sizes pass any limit); it saturates.
TEST_F(GridTest, HugeGridsSaturateInsteadOfWrapping) {
  SweepConfig c = Parse(kBase);
  c.tasks[0].samples = INT64_MAX / 2;  // past what parsing allows, to reach the bound cheaply
  c.tasks[0].complexities.assign(3, "1");
  EXPECT_EQ(GridSize(c), INT64_MAX);
  EXPECT_EQ(EstimateNeeds(c).db_bytes, INT64_MAX);
  Status s = CheckGridSize(c, kDefaultMaxCells);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("more than 9.2e18 cells"), std::string::npos) << s.message();
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

// Expanding into a real store: a second run of the same sweep inserts nothing (the saved grid
// digest matches), an edited sweep inserts only its new cells, and a deleted job comes back.
TEST_F(GridTest, ExpandIntoStoreIsIdempotentAndIncremental) {
  std::string dir =
      (std::filesystem::temp_directory_path() / ("cs_grid_" + std::to_string(getpid()))).string();
  std::filesystem::create_directories(dir);
  {
    auto store = Store::Open(dir + "/g.db", StoreOptions{});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    SweepConfig base = Parse(kBase);
    auto first = ExpandIntoStore(base, **store);
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    EXPECT_EQ(first->inserted, GridSize(base));
    EXPECT_EQ(first->total, GridSize(base));
    auto again = ExpandIntoStore(base, **store);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->inserted, 0);
    EXPECT_EQ(again->total, GridSize(base));
    std::string more = kBase;
    more.replace(more.find("samples = 4"), 11, "samples = 6");
    auto bigger = ExpandIntoStore(Parse(more), **store);
    ASSERT_TRUE(bigger.ok());
    EXPECT_EQ(bigger->inserted, GridSize(base) / 2);
    EXPECT_EQ(*(*store)->CountJobs(std::nullopt, 0), GridSize(base) * 6 / 4);
    std::string warmer = kBase;
    warmer += "temperature = 0.5\n";  // every openai:m cell is a new cell
    auto edited = ExpandIntoStore(Parse(warmer), **store);
    ASSERT_TRUE(edited.ok());
    EXPECT_EQ(edited->inserted, GridSize(base) / 2);
  }
  {
    // Somebody deletes a job by hand: the digest still matches, the count does not.
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open((dir + "/g.db").c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, "DELETE FROM jobs WHERE id = (SELECT max(id) FROM jobs)", nullptr,
                           nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
    auto store = Store::Open(dir + "/g.db", StoreOptions{});
    ASSERT_TRUE(store.ok());
    std::string warmer = kBase;
    warmer += "temperature = 0.5\n";
    auto back = ExpandIntoStore(Parse(warmer), **store);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->inserted, 1);
  }
  std::filesystem::remove_all(dir);
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
