// Declared methods ([method_templates.NAME]) end to end: real `codesweep run`, coordinator and
// worker processes on 127.0.0.1, the sim model, the real sandbox and a real SQLite file. Every
// code mode (execute, never, tool) and a multi-turn refinement with feedback record what the
// built-in methods record; editing a template gives new cells and keeps the old results.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "tests/integration/engine/harness.h"

namespace codesweep::testing {
namespace {

using ::testing::HasSubstr;

// 4 declared methods and one built-in on 3 samples of number_multiply: execute (1 turn), never,
// tool, and refine (execute, follows turns = [1, 3] with a feedback template).
std::string WriteDeclaredSweep(const TempDir& dir, const std::string& cot_words = "step by step") {
  std::string path = dir / "declared.toml";
  std::ofstream out(path);
  out << R"(name = "declared"
seed = 5
samples = 3
max_attempts = 2
methods = ["all_code", "my_cot", "text_only", "tooly", "refine"]
turns = [1, 3]

[[tasks]]
name = "number_multiply"
complexity = ["2_2"]

[models."sim:m"]
p_correct = 0.6
p_code = 0.5
p_terminate = 0.3

[method_templates.my_cot]
system = "You are a careful solver."
prompt = "{task_prompt}\nThink )"
      << cot_words << R"(, then write one Python block that prints the answer."
code = "execute"
turns = 1

[method_templates.text_only]
prompt = "{task_prompt}\nAnswer by textual reasoning. Do not output code."
code = "never"

[method_templates.tooly]
prompt = "Use the `python` tool to compute the answer.\n\n{task_prompt}"
code = "tool"

[method_templates.refine]
prompt = "{task_prompt}\nWrite python code that prints the answer."
code = "execute"
feedback = """The code printed:
{output}
Errors: {error}
If this answers the question, reply TERMINATE."""
feedback_without_code = "Check your answer to {task} and reply TERMINATE if it is right."
)";
  return path;
}

int RunDeclared(const TempDir& dir, const std::string& log) {
  Proc p(
      {Binary(), "run", dir / "declared.toml", "--db", dir / "declared.db", "--workers", "2", "-q"},
      dir / log);
  const bool ended = p.Wait(120'000);
  EXPECT_TRUE(ended) << p.log();
  EXPECT_EQ(p.exit_code(), 0) << p.log();
  return ended ? p.exit_code() : -1;
}

// 3 samples x (all_code x2 turns, my_cot, text_only, tooly, refine x2 turns).
constexpr int64_t kCells = 3 * 7;

void ExpectDeclaredRows(const std::string& db) {
  ExpectExactlyOnce(db, kCells);
  auto q = [&](const std::string& sql) { return QueryInt(db, sql); };
  // Every cell of a declared method points at its stored definition; built-in ones at none.
  EXPECT_EQ(q("SELECT count(*) FROM jobs WHERE method = 'all_code' AND method_template_id = 0"), 6);
  EXPECT_EQ(q("SELECT count(*) FROM jobs j JOIN method_templates t ON t.id = j.method_template_id"
              " WHERE t.name = j.method"),
            kCells - 6);
  // execute: the system message and the rendered prompt were sent; code ran in the sandbox.
  EXPECT_EQ(q("SELECT count(*) FROM calls c JOIN jobs j ON j.id = c.job_id WHERE j.method ="
              " 'my_cot' AND c.request_json LIKE '%You are a careful solver.%'"
              " AND c.request_json LIKE '%Think step by step, then%'"
              " AND c.request_json NOT LIKE '%{task_prompt}%'"),
            3);
  EXPECT_GT(q("SELECT count(*) FROM executions e JOIN jobs j ON j.id = e.job_id"
              " WHERE j.method = 'my_cot'"),
            0);
  // never: no execution at all, whatever the model wrote.
  EXPECT_EQ(q("SELECT count(*) FROM executions e JOIN jobs j ON j.id = e.job_id"
              " WHERE j.method = 'text_only'"),
            0);
  // tool: the python tool went with the request and its calls ran in the sandbox.
  EXPECT_EQ(q("SELECT count(*) FROM calls c JOIN jobs j ON j.id = c.job_id WHERE j.method ="
              " 'tooly' AND c.idx = 0 AND c.request_json LIKE '%\"tools\"%python%'"),
            3);
  EXPECT_GT(q("SELECT count(*) FROM results r JOIN jobs j ON j.id = r.job_id WHERE j.method ="
              " 'tooly' AND json_extract(r.extra_json, '$.tool_calls') >= 1"),
            0);
  // Multi-turn: the 3-turn cells took more than one turn somewhere, with the feedback rendered.
  EXPECT_GT(q("SELECT max(turns_used) FROM v_results WHERE method = 'refine' AND turns = 3"), 1);
  EXPECT_EQ(q("SELECT max(turns_used) FROM v_results WHERE method = 'refine' AND turns = 1"), 1);
  EXPECT_GT(q("SELECT count(*) FROM calls c JOIN jobs j ON j.id = c.job_id WHERE j.method ="
              " 'refine' AND c.turn > 0 AND (c.request_json LIKE '%The code printed:%'"
              " OR c.request_json LIKE '%Check your answer to number_multiply%')"),
            0);
  // Everything a built-in records: tokens, cost, turns, which candidate passed, the version.
  EXPECT_EQ(q("SELECT count(*) FROM v_results WHERE tokens_in > 0 AND turns_used >= 1"), kCells);
  EXPECT_GT(q("SELECT count(*) FROM v_results WHERE method IN ('my_cot', 'refine', 'tooly')"
              " AND passed_by IN ('code', 'reply')"),
            0);
  EXPECT_EQ(q("SELECT count(*) FROM results r JOIN jobs j ON j.id = r.job_id"
              " WHERE j.method_template_id != 0"
              " AND json_extract(r.extra_json, '$.method_template') LIKE 't1-%'"),
            kCells - 6);
}

TEST(DeclaredMethodsTest, RunRecordsEveryCodeModeAndEditsGiveNewCells) {
  TempDir dir;
  WriteDeclaredSweep(dir);
  ASSERT_EQ(RunDeclared(dir, "run1.log"), 0);
  const std::string db = dir / "declared.db";
  ExpectDeclaredRows(db);
  // `validate` shows the declared methods among the sweep's methods.
  Proc validate({Binary(), "validate", dir / "declared.toml"}, dir / "validate.log");
  ASSERT_TRUE(validate.Wait(60'000));
  EXPECT_EQ(validate.exit_code(), 0) << validate.log();
  // Unchanged: nothing new. Edited my_cot prompt: 3 new cells; the old results stay.
  ASSERT_EQ(RunDeclared(dir, "run2.log"), 0);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM jobs"), kCells);
  WriteDeclaredSweep(dir, "hard");
  ASSERT_EQ(RunDeclared(dir, "run3.log"), 0);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM jobs"), kCells + 3);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM results"), kCells + 3);
  EXPECT_EQ(QueryInt(db,
                     "SELECT count(DISTINCT method_template_id) FROM jobs"
                     " WHERE method = 'my_cot'"),
            2);
  EXPECT_EQ(QueryInt(db,
                     "SELECT count(*) FROM calls c JOIN jobs j ON j.id = c.job_id"
                     " WHERE j.method = 'my_cot' AND c.request_json LIKE '%Think hard,%'"),
            3);
}

TEST(DeclaredMethodsTest, RemoteWorkerRunsDeclaredMethods) {
  TempDir dir;
  WriteDeclaredSweep(dir);
  const std::string db = dir / "declared.db";
  Proc coord(CoordinatorArgs(dir / "declared.toml", db, "tcp://127.0.0.1:0"), dir / "coord.log");
  const std::string endpoint = WaitForEndpoint(coord, 30'000);
  ASSERT_FALSE(endpoint.empty()) << coord.log();
  Proc worker(WorkerArgs(endpoint, 2), dir / "worker.log");
  ASSERT_TRUE(coord.Wait(120'000)) << coord.log() << JobStates(db);
  EXPECT_EQ(coord.exit_code(), 0) << coord.log();
  ExpectDeclaredRows(db);
}

}  // namespace
}  // namespace codesweep::testing
