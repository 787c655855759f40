// Declared tasks in sweep files: inline [[tasks]] and task-file includes, grid keys (samples,
// run_levels) beside serve_levels, and cell identity on a real SQLite store: editing one row
// re-runs that row only, adding rows runs only the new ones, reordering the file changes nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "coordinator/store/store.h"
#include "coordinator/sweep/declared_tasks.h"
#include "coordinator/sweep/grid.h"
#include "jobs/tasks/declared/declared_task.h"

namespace codesweep {
namespace {

using ::testing::HasSubstr;

class DeclaredSweepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cs_declared_sweep_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_ / "data");
    std::filesystem::create_directories(dir_ / "tasks");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  Result<SweepConfig> Load(const std::string& sweep_text) {
    Write("sweep.toml", sweep_text);
    return LoadSweepFile(Path("sweep.toml"), builtin_);
  }
  std::string LoadError(const std::string& sweep_text) {
    Result<SweepConfig> c = Load(sweep_text);
    EXPECT_FALSE(c.ok());
    return c.ok() ? "" : c.status().message();
  }
  static std::string Rows(int from, int to) {
    std::string out;
    for (int i = from; i < to; ++i) {
      out += "{\"q\": \"" + std::to_string(i) + "+1\", \"a\": " + std::to_string(i + 1) + "}\n";
    }
    return out;
  }
  // The cell keys and samples of a sweep's grid.
  static std::set<std::pair<std::string, int64_t>> Cells(const SweepConfig& c) {
    std::set<std::pair<std::string, int64_t>> out;
    ForEachCell(c, [&](const GridCell& g) {
      out.insert({g.cell.value(), g.sample});
      return true;
    });
    return out;
  }

  static constexpr const char* kSweep = R"(
name = "decl"
seed = 3
methods = ["only_question"]
[models."sim:default"]
[[tasks]]
name = "adds"
dataset = "data/adds.jsonl"
prompt = "What is {q}? Answer as <<<n>>>."
target = "{a}"
scorer = "numeric"
samples = "all"
)";
  TaskRegistry builtin_;
  std::filesystem::path dir_;
};

TEST_F(DeclaredSweepTest, InlineTaskExpandsToOneCellPerRow) {
  Write("data/adds.jsonl", Rows(0, 5));
  Result<SweepConfig> c = Load(kSweep);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->tasks.size(), 1u);
  EXPECT_TRUE(c->tasks[0].declared != nullptr);
  EXPECT_TRUE(c->tasks[0].all_samples);
  EXPECT_EQ(GridSize(*c), 5);
  EXPECT_EQ(Cells(*c).size(), 5u);
  // Every sample is a row's key, and the row it names renders.
  ForEachCell(*c, [&](const GridCell& g) {
    auto inst = c->tasks[0].declared->Generate(g.complexity, g.sample, c->seed);
    EXPECT_TRUE(inst.ok());
    EXPECT_THAT(inst->prompt, HasSubstr("What is"));
    return true;
  });
  nlohmann::json j = nlohmann::json::parse(SweepConfigJson(*c));
  EXPECT_EQ(j["tasks"][0]["samples"], "all");
  EXPECT_EQ(j["tasks"][0]["declared"]["rows"], 5);
}

TEST_F(DeclaredSweepTest, TaskFileIncludeIsRelativeToTheIncludingFile) {
  Write("tasks/adds.toml", R"(
name = "adds"
dataset = "../data/adds.jsonl"
prompt = "What is {q}?"
target = "{a}"
complexity = "{lvl}"
)");
  Write("data/adds.jsonl",
        "{\"q\": \"1+1\", \"a\": 2, \"lvl\": \"easy\"}\n{\"q\": \"9*9\", \"a\": 81, \"lvl\": "
        "\"hard\"}\n{\"q\": \"2+2\", \"a\": 4, \"lvl\": \"easy\"}\n");
  Result<SweepConfig> c = Load(R"(
name = "decl"
samples = 10
methods = ["only_question"]
[models."sim:default"]
[[tasks]]
file = "tasks/adds.toml"
run_levels = ["easy"]
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->tasks[0].complexities, (std::vector<std::string>{"easy"}));
  EXPECT_EQ(GridSize(*c), 2);  // samples capped at the level's rows

  EXPECT_THAT(LoadError(R"(
name = "decl"
methods = ["only_question"]
[models."sim:default"]
[[tasks]]
file = "tasks/adds.toml"
run_levels = ["medium"]
)"),
              HasSubstr("tasks.adds.run_levels"));
  EXPECT_THAT(LoadError(R"(
name = "decl"
methods = ["only_question"]
[models."sim:default"]
[[tasks]]
file = "tasks/missing.toml"
)"),
              HasSubstr("sweep.toml:5: tasks[0].file:"));
}

// serve_levels (the declaration: which levels the task serves) and run_levels (the sweep: which
// of those to run) are two keys; `levels`, which meant either, is refused wherever it is written
// with a message naming both.
TEST_F(DeclaredSweepTest, ServeLevelsAndRunLevelsAreDistinctAndLevelsIsRefused) {
  Write("data/adds.jsonl",
        "{\"q\": \"1+1\", \"a\": 2, \"lvl\": \"easy\"}\n{\"q\": \"9*9\", \"a\": 81, \"lvl\": "
        "\"hard\"}\n{\"q\": \"2+2\", \"a\": 4, \"lvl\": \"easy\"}\n{\"q\": \"0\", \"a\": 0, "
        "\"lvl\": \"odd\"}\n");
  const std::string task =
      "name = \"adds\"\ndataset = \"../data/adds.jsonl\"\nprompt = \"What is {q}?\"\n"
      "target = \"{a}\"\ncomplexity = \"{lvl}\"\n";
  Write("tasks/adds.toml", task + "serve_levels = [\"hard\", \"easy\"]\n");
  const std::string head =
      "name = \"decl\"\nsamples = 10\nmethods = [\"only_question\"]\n[models.\"sim:default\"]\n"
      "[[tasks]]\nfile = \"tasks/adds.toml\"\n";
  Result<SweepConfig> all = Load(head);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->tasks[0].complexities, (std::vector<std::string>{"hard", "easy"}));
  EXPECT_EQ(GridSize(*all), 3);  // the "odd" row is not served
  Result<SweepConfig> easy = Load(head + "run_levels = [\"easy\"]\n");
  ASSERT_TRUE(easy.ok()) << easy.status().ToString();
  EXPECT_EQ(GridSize(*easy), 2);
  EXPECT_THAT(LoadError(head + "run_levels = [\"odd\"]\n"), HasSubstr("tasks.adds.run_levels"));

  // The old spelling beside file, in the task file, and in an inline declaration.
  std::string beside = LoadError(head + "levels = [\"easy\"]\n");
  EXPECT_THAT(beside, HasSubstr("tasks[0].levels: no longer a key"));
  EXPECT_THAT(beside, HasSubstr("run_levels"));
  EXPECT_THAT(beside, HasSubstr("serve_levels"));
  Write("tasks/adds.toml", task + "levels = [\"easy\"]\n");
  EXPECT_THAT(LoadError(head), HasSubstr("tasks.adds.levels: no longer a key"));
  EXPECT_THAT(LoadError(std::string(kSweep) + "levels = [\"\"]\n"),
              HasSubstr("tasks.adds.levels: no longer a key"));
}

TEST_F(DeclaredSweepTest, BadRowsAreErrorsNamingFileAndLine) {
  Write("data/adds.jsonl", Rows(0, 3) + "{\"q\": \"x\"}\n");
  std::string e = LoadError(kSweep);
  EXPECT_THAT(e, HasSubstr("sweep.toml:6: tasks[0]"));
  EXPECT_THAT(e, HasSubstr("adds.jsonl:4"));
  EXPECT_THAT(e, HasSubstr("missing field 'a'"));
  Write("data/adds.jsonl", Rows(0, 2) + "{\"q\": \"x\", \"a\": }\n");
  EXPECT_THAT(LoadError(kSweep), HasSubstr("adds.jsonl:3"));
  Write("data/adds.jsonl", Rows(0, 2) + Rows(1, 2));
  EXPECT_THAT(LoadError(kSweep), HasSubstr("the same row as line 2"));
  Write("data/adds.jsonl", Rows(0, 2) + "{\"q\": \"x\", \"a\": \"\"}\n");
  EXPECT_THAT(LoadError(kSweep), HasSubstr("target: empty"));
  Write("data/adds.jsonl", Rows(0, 2) + "{\"q\": \"\xff\", \"a\": 1}\n");
  EXPECT_THAT(LoadError(kSweep), HasSubstr("adds.jsonl:3"));
}

TEST_F(DeclaredSweepTest, JudgeModelMustBeAModelOfTheSweep) {
  Write("data/adds.jsonl", Rows(0, 2));
  std::string sweep = kSweep;
  sweep.replace(sweep.find("scorer = \"numeric\""), 18,
                "scorer = { kind = \"judge\", model = \"sim:other\" }");
  EXPECT_THAT(LoadError(sweep), HasSubstr("\"sim:other\" is not a model of this sweep"));
  sweep.replace(sweep.find("sim:other"), 9, "sim:default");
  Result<SweepConfig> c = Load(sweep);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  // The wire definition carries the judge's model so a worker can call it.
  auto task = DeclaredRowTask::FromWire(c->tasks[0].declared_wire, R"({"q":"1+1","a":2})");
  ASSERT_TRUE(task.ok()) << task.status().ToString();
  ASSERT_TRUE((*task)->judge_model().has_value());
  EXPECT_EQ((*task)->judge_model()->id, "sim:default");
}

TEST_F(DeclaredSweepTest, SeededSamplingIsStableWhenRowsAreAdded) {
  Write("data/adds.jsonl", Rows(0, 50));
  std::string sweep = kSweep;
  sweep.replace(sweep.find("samples = \"all\""), 15, "samples = 10");
  Result<SweepConfig> a = Load(sweep);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  Result<SweepConfig> again = Load(sweep);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Cells(*a), Cells(*again));
  EXPECT_EQ(Cells(*a).size(), 10u);
  // 50 more rows: the new sample keeps every old pick that still ranks among the 10 first.
  Write("data/adds.jsonl", Rows(0, 100));
  Result<SweepConfig> b = Load(sweep);
  ASSERT_TRUE(b.ok());
  std::set<int64_t> old_rows, new_rows, all_rows;
  for (const auto& [key, sample] : Cells(*a)) old_rows.insert(sample);
  for (const auto& [key, sample] : Cells(*b)) new_rows.insert(sample);
  for (int64_t k : b->tasks[0].declared->SampleKeys("", -1, 0, 0)) all_rows.insert(k);
  EXPECT_EQ(new_rows.size(), 10u);
  for (int64_t k : new_rows) EXPECT_TRUE(all_rows.count(k));
  // Picks that left were displaced by new rows only (a bottom-10 of a fixed per-row rank).
  int kept = 0;
  for (int64_t k : old_rows) kept += new_rows.count(k);
  int added = 0;
  std::set<int64_t> first50;
  Write("data/adds.jsonl", Rows(0, 50));
  Result<SweepConfig> a2 = Load(sweep);
  for (int64_t k : a2->tasks[0].declared->SampleKeys("", -1, 0, 0)) first50.insert(k);
  for (int64_t k : new_rows) added += first50.count(k) ? 0 : 1;
  EXPECT_EQ(kept + added, 10);
}

// The cell keys of a real SQLite store across edits of the dataset.
class DeclaredStoreTest : public DeclaredSweepTest {
 protected:
  // Loads the sweep into the store; returns the number of jobs inserted, then marks every job
  // done (as if the sweep had run).
  int64_t LoadAndRun() {
    Result<SweepConfig> c = Load(kSweep);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (!c.ok()) return -1;
    auto store = Store::Open(Path("runs.db"), StoreOptions{});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return -1;
    Result<ExpandStats> stats = ExpandIntoStore(*c, **store);
    EXPECT_TRUE(stats.ok()) << stats.status().ToString();
    store->reset();
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(Path("runs.db").c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, "UPDATE jobs SET state = 'done'", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
    return stats.ok() ? stats->inserted : -1;
  }
  int64_t JobCount() {
    sqlite3* db = nullptr;
    sqlite3_open(Path("runs.db").c_str(), &db);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM jobs", -1, &st, nullptr);
    sqlite3_step(st);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
  }
};

TEST_F(DeclaredStoreTest, EditAddAndReorderRowsTouchOnlyWhatChanged) {
  Write("data/adds.jsonl", Rows(0, 6));
  EXPECT_EQ(LoadAndRun(), 6);
  // Reordering the file (and respacing a row) changes no cell.
  std::string rows = Rows(3, 6) + Rows(0, 3);
  rows.replace(rows.find("\"a\": 1}"), 7, "\"a\":1 }");
  Write("data/adds.jsonl", rows);
  EXPECT_EQ(LoadAndRun(), 0);
  // Editing one row: that row's cell only.
  Write("data/adds.jsonl", Rows(0, 5) + "{\"q\": \"5+1\", \"a\": 6.0}\n");
  EXPECT_EQ(LoadAndRun(), 1);
  // Adding rows: only the new ones.
  Write("data/adds.jsonl", Rows(0, 5) + "{\"q\": \"5+1\", \"a\": 6.0}\n" + Rows(6, 9));
  EXPECT_EQ(LoadAndRun(), 3);
  EXPECT_EQ(JobCount(), 6 + 1 + 3);
  // Editing the task's definition (its prompt) makes every cell new.
  std::string text = kSweep;
  text.replace(text.find("What is"), 7, "Compute");
  Write("sweep.toml", text);
  Result<SweepConfig> c = LoadSweepFile(Path("sweep.toml"), builtin_);
  ASSERT_TRUE(c.ok());
  auto store = Store::Open(Path("runs.db"), StoreOptions{});
  ASSERT_TRUE(store.ok());
  Result<ExpandStats> stats = ExpandIntoStore(*c, **store);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->inserted, 9);
}

TEST_F(DeclaredStoreTest, DispatchCarriesTheDefinitionAndTheRow) {
  Write("data/adds.jsonl", Rows(0, 3));
  Result<SweepConfig> c = Load(kSweep);
  ASSERT_TRUE(c.ok());
  DeclaredCatalog catalog(*c);
  int seen = 0;
  ForEachCell(*c, [&](const GridCell& g) {
    JobSpec spec;
    spec.sweep = "decl";
    spec.task = g.task;
    spec.complexity = g.complexity;
    spec.sample = g.sample;
    EXPECT_TRUE(catalog.Fill(spec).ok());
    auto task = DeclaredRowTask::FromWire(spec.task_def, spec.task_row);
    EXPECT_TRUE(task.ok()) << task.status().ToString();
    auto from_file = c->tasks[0].declared->Generate(g.complexity, g.sample, 3);
    auto from_wire = (*task)->Generate(g.complexity, g.sample, 3);
    EXPECT_EQ(from_file->prompt, from_wire->prompt);
    EXPECT_EQ(from_file->data["row_hash"], from_wire->data["row_hash"]);
    ++seen;
    return true;
  });
  EXPECT_EQ(seen, 3);
  // A job whose row left the file fails with a reason; other sweeps' jobs are left alone.
  JobSpec gone;
  gone.sweep = "decl";
  gone.task = "adds";
  gone.sample = 12345;
  EXPECT_THAT(catalog.Fill(gone).message(), HasSubstr("no longer in"));
  JobSpec other;
  other.sweep = "other";
  other.task = "adds";
  EXPECT_TRUE(catalog.Fill(other).ok());
  EXPECT_TRUE(other.task_def.empty());
}

TEST_F(DeclaredStoreTest, FileOrderCellsAreSampleIndexesAndDispatchTheirPermutedRow) {
  Write("data/adds.jsonl", Rows(0, 4));
  std::string text = kSweep;
  text.replace(text.find("samples = \"all\""), 15, "order = \"file\"\nsamples = 3");
  Result<SweepConfig> c = Load(text);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  DeclaredCatalog catalog(*c);
  std::set<int64_t> samples;
  ForEachCell(*c, [&](const GridCell& g) {
    samples.insert(g.sample);
    JobSpec spec;
    spec.sweep = "decl";
    spec.task = g.task;
    spec.complexity = g.complexity;
    spec.sample = g.sample;
    spec.seed = c->seed;
    EXPECT_TRUE(catalog.Fill(spec).ok());
    auto task = DeclaredRowTask::FromWire(spec.task_def, spec.task_row);
    EXPECT_TRUE(task.ok()) << task.status().ToString();
    // The worker gets the row the file-order permutation serves for this sample and seed.
    auto from_file = c->tasks[0].declared->Generate(g.complexity, g.sample, c->seed);
    auto from_wire = (*task)->Generate(g.complexity, g.sample, c->seed);
    EXPECT_EQ(from_file->prompt, from_wire->prompt);
    EXPECT_EQ(from_file->data["row_hash"], from_wire->data["row_hash"]);
    return true;
  });
  EXPECT_EQ(samples, (std::set<int64_t>{0, 1, 2}));
}

}  // namespace
}  // namespace codesweep
