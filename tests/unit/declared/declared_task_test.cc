#include "jobs/tasks/declared/declared_task.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace codesweep {
namespace {

using ::testing::HasSubstr;

class DeclaredTaskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cs_declared_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_ / "data");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  nlohmann::json Table(const std::string& dataset = "data/q.jsonl") {
    return {{"name", "arith"},
            {"dataset", dataset},
            {"id", "{id}"},
            {"prompt", "Solve: {question}\nAnswer as <<<number>>>."},
            {"target", "{answer}"},
            {"complexity", "{level}"},
            {"answer", {"triple_angle", "last_number"}},
            {"scorer", {{"kind", "numeric"}, {"rel_tol", 1e-3}}}};
  }
  Result<std::unique_ptr<DeclaredTask>> Make(const nlohmann::json& table) {
    Result<DeclaredTaskSpec> spec = ParseDeclaredTask(table, dir_.string());
    if (!spec.ok()) return spec.status();
    return DeclaredTask::Create(std::move(spec).value());
  }
  std::string Error(const nlohmann::json& table) {
    auto t = Make(table);
    EXPECT_FALSE(t.ok());
    return t.ok() ? "" : t.status().message();
  }
  static constexpr const char* kRows =
      "{\"id\": \"a\", \"question\": \"1+1\", \"answer\": 2, \"level\": \"easy\"}\n"
      "{\"id\": \"b\", \"question\": \"2+2\", \"answer\": [4, \"four\"], \"level\": \"easy\"}\n"
      "{\"id\": \"c\", \"question\": \"12*12\", \"answer\": \"144\", \"level\": \"hard\"}\n";
  std::filesystem::path dir_;
};

TEST_F(DeclaredTaskTest, ServesRowsThroughTemplatesAndJudgesWithTheScorer) {
  Write("data/q.jsonl", kRows);
  auto task = Make(Table());
  ASSERT_TRUE(task.ok()) << task.status().ToString();
  EXPECT_EQ((*task)->name(), "arith");
  EXPECT_EQ((*task)->complexity_levels(), (std::vector<std::string>{"easy", "hard"}));
  EXPECT_EQ((*task)->InstanceCount("easy"), 2);
  EXPECT_EQ((*task)->InstanceCount("hard"), 1);
  auto inst = (*task)->Generate("hard", 0, 1);
  ASSERT_TRUE(inst.ok()) << inst.status().ToString();
  EXPECT_EQ(inst->prompt, "Solve: 12*12\nAnswer as <<<number>>>.");
  EXPECT_EQ(inst->truth, "144");
  EXPECT_EQ(inst->data["id"], "c");
  Verdict ok = (*task)->Check(*inst, "so it is <<<144.0>>>");
  EXPECT_TRUE(ok.correct) << ok.reason;
  EXPECT_THAT(ok.reason, HasSubstr("answer by triple_angle"));
  Verdict fallback = (*task)->Check(*inst, "I think 144");
  EXPECT_TRUE(fallback.correct);
  EXPECT_THAT(fallback.reason, HasSubstr("answer by last_number"));
  Verdict none = (*task)->Check(*inst, "no idea");
  EXPECT_FALSE(none.correct);
  EXPECT_EQ(none.reason, "no answer found (tried triple_angle, last_number)");
  EXPECT_FALSE((*task)->Check(*inst, "<<<145>>>").correct);
  EXPECT_FALSE((*task)->ValidateComplexity("medium").ok());
}

TEST_F(DeclaredTaskTest, ListTargetsAreEachAccepted) {
  Write("data/q.jsonl", kRows);
  auto task = Make(Table());
  ASSERT_TRUE(task.ok());
  for (int64_t s = 0; s < 2; ++s) {
    auto inst = (*task)->Generate("easy", s, 0);
    ASSERT_TRUE(inst.ok());
    if (inst->data["id"] != "b") continue;
    EXPECT_EQ(inst->truth, "4 | four");
    EXPECT_TRUE((*task)->Check(*inst, "<<<4>>>").correct);
  }
}

TEST_F(DeclaredTaskTest, ReorderingTheFileServesTheSameRowForEachSample) {
  Write("data/q.jsonl", kRows);
  auto a = Make(Table());
  std::string reversed =
      "{\"level\": \"hard\", \"answer\": \"144\", \"question\": \"12*12\", \"id\": \"c\"}\n"
      "{\"id\": \"b\", \"question\": \"2+2\", \"answer\": [4, \"four\"], \"level\": \"easy\"}\n"
      "{\"id\": \"a\", \"question\": \"1+1\", \"answer\": 2, \"level\": \"easy\"}\n";
  Write("data/r.jsonl", reversed);
  auto b = Make(Table("data/r.jsonl"));
  ASSERT_TRUE(a.ok() && b.ok());
  for (int64_t s = 0; s < 4; ++s) {
    for (uint64_t seed : {0u, 1u, 2u}) {
      auto x = (*a)->Generate("easy", s, seed);
      auto y = (*b)->Generate("easy", s, seed);
      EXPECT_EQ(x->data["id"], y->data["id"]) << s << " " << seed;
      EXPECT_EQ(x->data["row_hash"], y->data["row_hash"]);
    }
  }
  EXPECT_EQ((*b)->complexity_levels(), (std::vector<std::string>{"hard", "easy"}));
}

TEST_F(DeclaredTaskTest, DefinitionHashFollowsWhatChangesACell) {
  auto h = [&](nlohmann::json t) { return ParseDeclaredTask(t, dir_.string())->definition_hash; };
  nlohmann::json base = Table();
  nlohmann::json edited = base;
  edited["prompt"] = "Solve carefully: {question}";
  nlohmann::json rescored = base;
  rescored["scorer"] = "exact";
  nlohmann::json bigger = base;
  bigger["max_row_bytes"] = 1 << 20;
  EXPECT_NE(h(base), h(edited));
  EXPECT_NE(h(base), h(rescored));
  EXPECT_EQ(h(base), h(bigger));  // a limit changes no cell
}

TEST_F(DeclaredTaskTest, BadRowsAreNamedByFileLineAndField) {
  Write("data/miss.jsonl",
        std::string(kRows) + "{\"id\": \"d\", \"answer\": 1, \"level\": \"easy\"}\n");
  EXPECT_THAT(Error(Table("data/miss.jsonl")),
              HasSubstr("miss.jsonl:4: prompt: missing field 'question'"));
  Write("data/empty.jsonl",
        std::string(kRows) +
            "{\"id\": \"d\", \"question\": \"x\", \"answer\": \" \", \"level\": \"easy\"}\n");
  EXPECT_THAT(Error(Table("data/empty.jsonl")), HasSubstr("empty.jsonl:4: target: empty"));
  Write("data/dup.jsonl",
        std::string(kRows) +
            "{\"id\": \"a\", \"question\": \"x\", \"answer\": 1, \"level\": \"easy\"}\n");
  EXPECT_THAT(Error(Table("data/dup.jsonl")), HasSubstr("dup.jsonl:4: the same id as line 1"));
  nlohmann::json no_id = Table("data/same.jsonl");
  no_id.erase("id");
  Write("data/same.jsonl",
        "{\"question\": \"x\", \"answer\": 1, \"level\": \"e\"}\n{\"question\": \"y\", \"answer\": "
        "1, \"level\": \"e\"}\n{\"answer\": 1, \"level\": \"e\", \"question\": \"x\"}\n");
  EXPECT_THAT(Error(no_id), HasSubstr("same.jsonl:3: the same row as line 1"));
  EXPECT_THAT(Error(Table("data/none.jsonl")), HasSubstr("none.jsonl: no such file"));
}

TEST_F(DeclaredTaskTest, BadDeclarationsNameTheKey) {
  auto err = [&](nlohmann::json t) {
    auto s = ParseDeclaredTask(t, dir_.string());
    EXPECT_FALSE(s.ok());
    return s.ok() ? "" : s.status().message();
  };
  nlohmann::json t = Table();
  t["promt"] = "x";
  EXPECT_THAT(err(t), HasSubstr("tasks.arith.promt: unknown key"));
  t = Table();
  t.erase("prompt");
  EXPECT_THAT(err(t), HasSubstr("tasks.arith.prompt: required"));
  t = Table();
  t["prompt"] = "{question";
  EXPECT_THAT(err(t), HasSubstr("tasks.arith.prompt: template:"));
  t = Table();
  t["scorer"] = "fuzzy";
  EXPECT_THAT(err(t), HasSubstr("tasks.arith: scorer: unknown kind 'fuzzy'"));
  t = Table();
  t["answer"] = {"triple_angle", "telepathy"};
  EXPECT_THAT(err(t), HasSubstr("unknown extractor 'telepathy'"));
  t = Table();
  t["dataset"] = "data/q.txt";
  EXPECT_THAT(err(t), HasSubstr("tasks.arith.dataset:"));
  t = Table();
  t["name"] = "bad name!";
  EXPECT_THAT(err(t), HasSubstr("name"));
}

TEST_F(DeclaredTaskTest, ReferenceSolutionIsReadBackByTheFirstExtractor) {
  Write("data/q.jsonl", kRows);
  nlohmann::json t = Table();
  t["answer"] = {{{"kind", "json_field"}, {"field", "result.value"}}};
  auto task = Make(t);
  ASSERT_TRUE(task.ok()) << task.status().ToString();
  auto inst = (*task)->Generate("hard", 0, 0);
  std::string ref = (*task)->ReferenceSolution(*inst);
  EXPECT_THAT(ref, HasSubstr("{\\\"result\\\":{\\\"value\\\":\\\"144\\\"}}"));
  EXPECT_TRUE((*task)->Check(*inst, "{\"result\":{\"value\":\"144\"}}").correct);
}

TEST_F(DeclaredTaskTest, SampleKeysNameRowsByContent) {
  Write("data/q.jsonl", kRows);
  auto task = Make(Table());
  ASSERT_TRUE(task.ok()) << task.status().ToString();
  std::vector<int64_t> all = (*task)->SampleKeys("easy", -1, 0, 1);
  ASSERT_EQ(all.size(), 2u);
  for (int64_t key : all) {
    ASSERT_TRUE((*task)->FindRow("easy", key, 1).has_value());
    auto inst = (*task)->Generate("easy", key, 9);  // a key names its row whatever the seed
    ASSERT_TRUE(inst.ok());
    EXPECT_EQ(RowSampleKey(std::stoull(inst->data["row_hash"].get<std::string>(), nullptr, 16)),
              key);
  }
  EXPECT_FALSE((*task)->FindRow("hard", all[0], 1).has_value());
  EXPECT_EQ((*task)->SampleKeys("easy", 1, 0, 1).size(), 1u);
  EXPECT_EQ((*task)->SampleKeys("easy", 5, 0, 1).size(), 2u);  // at most the level's rows
  EXPECT_EQ((*task)->SampleKeys("easy", 5, 1, 1).size(), 1u);  // after first_sample
}

TEST_F(DeclaredTaskTest, PythonScorerSourceIsReadAndTravelsWithTheDefinition) {
  Write("data/q.jsonl", kRows);
  std::filesystem::create_directories(dir_ / "scorers");
  Write("scorers/s.py", "def score(answer, row, reply):\n    return True\n");
  nlohmann::json table = Table();
  table["scorer"] = {{"kind", "python"}, {"file", "scorers/s.py"}};
  auto spec = ParseDeclaredTask(table, dir_.string());
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  ASSERT_TRUE(spec->python.has_value());
  EXPECT_THAT(spec->python->source, HasSubstr("def score"));
  EXPECT_EQ(spec->table["scorer"]["source"], spec->python->source);
  // A worker parses the definition again with no file at hand; the hash is the same.
  auto again = ParseDeclaredTask(spec->table, "");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->definition_hash, spec->definition_hash);
  // Editing the scorer's text changes the definition.
  Write("scorers/s.py", "def score(answer, row, reply):\n    return False\n");
  auto edited = ParseDeclaredTask(table, dir_.string());
  ASSERT_TRUE(edited.ok());
  EXPECT_NE(edited->definition_hash, spec->definition_hash);

  table["scorer"] = {{"kind", "python"}, {"file", "scorers/missing.py"}};
  EXPECT_THAT(ParseDeclaredTask(table, dir_.string()).status().message(), HasSubstr("cannot read"));
  table["scorer"] = {{"kind", "python"}, {"file", "scorers/s.py"}, {"function", "a b"}};
  EXPECT_THAT(ParseDeclaredTask(table, dir_.string()).status().message(), HasSubstr("Python name"));
  table["scorer"] = {{"kind", "judge"}};
  EXPECT_THAT(ParseDeclaredTask(table, dir_.string()).status().message(), HasSubstr("model"));
  table["scorer"] = {{"kind", "judge"}, {"model", "sim:default"}, {"rubric", "{unclosed"}};
  EXPECT_THAT(ParseDeclaredTask(table, dir_.string()).status().message(), HasSubstr("rubric"));
}

TEST_F(DeclaredTaskTest, RowTaskFromWireRendersTheRowAlone) {
  Write("data/q.jsonl", kRows);
  auto spec = ParseDeclaredTask(Table(), dir_.string());
  ASSERT_TRUE(spec.ok());
  std::string def = nlohmann::json{{"task", spec->table}}.dump();
  auto task =
      DeclaredRowTask::FromWire(def, R"({"id":"z","question":"3*3","answer":9,"level":"x"})");
  ASSERT_TRUE(task.ok()) << task.status().ToString();
  auto inst = (*task)->Generate("x", 5, 1);
  ASSERT_TRUE(inst.ok());
  EXPECT_EQ(inst->prompt, "Solve: 3*3\nAnswer as <<<number>>>.");
  EXPECT_TRUE((*task)->Check(*inst, "<<<9>>>").correct);
  EXPECT_FALSE(DeclaredRowTask::FromWire("{", "{}").ok());
  EXPECT_FALSE(DeclaredRowTask::FromWire(def, "[]").ok());
  EXPECT_FALSE(DeclaredRowTask::FromWire(R"({"task":{"name":"x"}})", "{}").ok());
}

TEST_F(DeclaredTaskTest, FileOrderSamplesArePositionsInTheSeededPermutation) {
  Write("data/q.jsonl", kRows);
  nlohmann::json table = Table();
  table["order"] = "file";
  auto task = Make(table);
  ASSERT_TRUE(task.ok()) << task.status().ToString();
  // Small integers, not row keys: the grid's cells of a file-order task are positions.
  EXPECT_EQ((*task)->SampleKeys("easy", -1, 0, 7), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ((*task)->SampleKeys("easy", 5, 0, 7), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ((*task)->SampleKeys("easy", 1, 1, 7), (std::vector<int64_t>{1}));
  EXPECT_TRUE((*task)->SampleKeys("easy", 3, 2, 7).empty());
  // FindRow (what the coordinator sends a worker) is the row Generate serves for that sample.
  for (uint64_t seed : {1u, 7u, 12345u}) {
    for (int64_t i = 0; i < 2; ++i) {
      std::optional<size_t> row = (*task)->FindRow("easy", i, seed);
      ASSERT_TRUE(row.has_value());
      auto inst = (*task)->Generate("easy", i, seed);
      ASSERT_TRUE(inst.ok());
      EXPECT_EQ(inst->data["line"].get<uint32_t>(), (*task)->dataset().line(*row));
    }
  }
  EXPECT_FALSE((*task)->FindRow("easy", 2, 7).has_value());
  EXPECT_FALSE((*task)->FindRow("easy", -1, 7).has_value());
}

TEST_F(DeclaredTaskTest, ReferenceFileStaysOffTheWire) {
  Write("data/q.jsonl", kRows);
  Write("ref.py", "def solve(prompt):\n    return 4\n");
  nlohmann::json table = Table();
  table["reference"] = "ref.py";  // relative to the declaring file: not there on a worker
  auto spec = ParseDeclaredTask(table, dir_.string());
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_THAT(spec->reference_code, HasSubstr("def solve("));
  std::string def = nlohmann::json{{"task", spec->table}}.dump();
  auto task = DeclaredRowTask::FromWire(def, R"({"id":"z","question":"2+2","answer":4})");
  ASSERT_TRUE(task.ok()) << task.status().ToString();
}

TEST_F(DeclaredTaskTest, AnswerSourceIsTheExtractorsPositionNotItsName) {
  Write("data/q.jsonl", kRows);
  nlohmann::json table = Table();
  table["answer"] = {{{"kind", "regex"}, {"pattern", "ANSWER: (\\S+)"}},
                     {{"kind", "regex"}, {"pattern", "= (\\S+)"}}};
  auto task = Make(table);
  ASSERT_TRUE(task.ok()) << task.status().ToString();
  auto inst = (*task)->Generate("hard", 0, 1);
  ASSERT_TRUE(inst.ok());
  DeclaredJudgement first = JudgeDeclared((*task)->spec(), *inst, "ANSWER: 144");
  EXPECT_TRUE(first.verdict.correct) << first.verdict.reason;
  EXPECT_EQ(first.verdict.source, AnswerSource::kTags);
  DeclaredJudgement second = JudgeDeclared((*task)->spec(), *inst, "12*12 = 144");
  EXPECT_TRUE(second.verdict.correct) << second.verdict.reason;
  EXPECT_EQ(second.extractor, "regex");
  EXPECT_EQ(second.verdict.source, AnswerSource::kFallback);  // a later regex: a fallback
}

}  // namespace
}  // namespace codesweep
