// The example sweep files: every one validates; examples/paper-sim.toml (all 14 tasks x 10
// methods on simulated models) and examples/quickstart.toml run to completion in one process, and
// a second run of the quickstart does nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <memory>

#include "tests/integration/engine/harness.h"

namespace codesweep::testing {
namespace {

std::string Example(const std::string& name) {
  return std::string(CODESWEEP_SOURCE_DIR) + "/examples/" + name;
}

TEST(ExamplesTest, EverySweepFileValidates) {
  TempDir dir;
  for (const char* name : {"quickstart.toml", "paper.toml", "paper-sim.toml", "declared.toml"}) {
    Proc p({Binary(), "validate", Example(name)}, dir / "validate.log");
    ASSERT_TRUE(p.Wait(60'000)) << name;
    EXPECT_EQ(p.exit_code(), 0) << name << ":\n" << p.log();
    EXPECT_THAT(p.log(), ::testing::HasSubstr("grid: ")) << name;
  }
}

TEST(ExamplesTest, PaperGridHasEveryTaskMethodAndModel) {
  TempDir dir;
  Proc p({Binary(), "validate", Example("paper.toml"), "--json", "--first", "1"},
         dir / "paper.json");
  ASSERT_TRUE(p.Wait(60'000));
  ASSERT_EQ(p.exit_code(), 0) << p.log();
  std::string out = p.log();
  for (const char* needle :
       {"\"openai:gpt-4o\"", "\"openai:gpt-4o-mini\"", "\"openai:gpt-3.5-turbo\"",
        "\"openai:o1-preview\"", "\"anthropic:claude-3-5-sonnet-20241022\"",
        "\"openai:open-mixtral-8x7b\"", "\"math_counting_and_probability\"", "\"path_plan\"",
        "\"self_estimate\"", "\"code_text_sum\""}) {
    EXPECT_THAT(out, ::testing::HasSubstr(needle));
  }
}

TEST(ExamplesTest, SimulatedPaperSweepRunsEveryTaskAndMethod) {
  TempDir dir;
  std::string db = dir / "paper-sim.db";
  Proc run({Binary(), "run", Example("paper-sim.toml"), "--db", db, "--workers", "4"},
           dir / "run.log");
  ASSERT_TRUE(run.Wait(480'000)) << run.log();
  ASSERT_EQ(run.exit_code(), 0) << run.log();
  // 14 tasks x 1 sample x 2 models x (6 multi-turn methods x 2 turn counts + 4 others).
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM v_results"), 14 * 2 * (6 * 2 + 4));
  EXPECT_EQ(QueryInt(db, "SELECT count(DISTINCT task) FROM v_results"), 14);
  EXPECT_EQ(QueryInt(db, "SELECT count(DISTINCT method) FROM v_results"), 10);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM jobs WHERE state <> 'done'"), 0);
  // The simulated models produce real variation, and some code really ran.
  EXPECT_GT(QueryInt(db, "SELECT count(*) FROM v_results WHERE correct = 1"), 0);
  EXPECT_GT(QueryInt(db, "SELECT count(*) FROM v_results WHERE correct = 0"), 0);
  EXPECT_GT(QueryInt(db, "SELECT count(*) FROM executions WHERE status = 'ok'"), 0);
}

TEST(ExamplesTest, QuickstartRunsThenResumesWithNothingToDo) {
  TempDir dir;
  std::string db = dir / "quickstart.db";
  Proc first({Binary(), "run", Example("quickstart.toml"), "--db", db}, dir / "first.log");
  ASSERT_TRUE(first.Wait(300'000)) << first.log();
  ASSERT_EQ(first.exit_code(), 0) << first.log();
  int64_t cells = QueryInt(db, "SELECT count(*) FROM v_results");
  EXPECT_EQ(cells, 140);
  int64_t calls = QueryInt(db, "SELECT count(*) FROM calls");
  Proc second({Binary(), "run", Example("quickstart.toml"), "--db", db}, dir / "second.log");
  ASSERT_TRUE(second.Wait(60'000)) << second.log();
  EXPECT_EQ(second.exit_code(), 0) << second.log();
  EXPECT_THAT(second.log(), ::testing::HasSubstr("nothing to run"));
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM v_results"), cells);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM calls"), calls);
}

// examples/declared.toml: a declared dataset task scored by a rule, a Python scorer (in the
// sandbox) and an LLM judge (the sim model), listed by `tasks`, then run to completion.
TEST(ExamplesTest, DeclaredTasksListShowAndRunWithEveryScorerKind) {
  TempDir dir;
  Proc list({Binary(), "tasks", "--sweep", Example("declared.toml")}, dir / "tasks.log");
  ASSERT_TRUE(list.Wait(60'000));
  ASSERT_EQ(list.exit_code(), 0) << list.log();
  for (const char* name : {"arith_words", "arith_python", "arith_judge", "game24"}) {
    EXPECT_THAT(list.log(), ::testing::HasSubstr(name));
  }
  Proc show({Binary(), "tasks", "show", "arith_words", "--sweep", Example("declared.toml"),
             "--seed", "1"},
            dir / "show.log");
  ASSERT_TRUE(show.Wait(60'000));
  ASSERT_EQ(show.exit_code(), 0) << show.log();
  EXPECT_THAT(show.log(), ::testing::HasSubstr("Give the final answer as <<<number>>>"));
  EXPECT_THAT(show.log(), ::testing::HasSubstr("complexity: easy"));

  std::string db = dir / "declared.db";
  Proc run({Binary(), "run", Example("declared.toml"), "--db", db, "--workers", "2"},
           dir / "run.log");
  ASSERT_TRUE(run.Wait(300'000)) << run.log();
  ASSERT_EQ(run.exit_code(), 0) << run.log();
  // (16 + 8 + 8 rows) x 2 methods.
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM v_results"), 64);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM jobs WHERE state <> 'done'"), 0);
  EXPECT_GT(QueryInt(db, "SELECT count(*) FROM v_results WHERE correct = 1"), 0);
  EXPECT_EQ(QueryInt(db,
                     "SELECT count(*) FROM results WHERE answer_source NOT IN "
                     "('tags', 'fallback', 'none')"),
            0);
  // The Python scorer ran in the sandbox for every answered cell of its task.
  EXPECT_GT(QueryInt(db,
                     "SELECT count(*) FROM results r JOIN jobs j ON j.id = r.job_id "
                     "WHERE j.task = 'arith_python' AND r.extra_json LIKE '%\"python\"%'"),
            0);
  // Every judged cell made the judge's call beside the model's, with the reasoning stored.
  EXPECT_GT(QueryInt(db,
                     "SELECT count(*) FROM v_results WHERE task = 'arith_judge' AND "
                     "verdict_reason LIKE 'judge: %'"),
            0);
  EXPECT_GT(QueryInt(db,
                     "SELECT count(*) FROM calls c JOIN jobs j ON j.id = c.job_id "
                     "WHERE j.task = 'arith_judge'"),
            QueryInt(db, "SELECT count(*) FROM jobs WHERE task = 'arith_judge'"));
  Proc again({Binary(), "run", Example("declared.toml"), "--db", db}, dir / "again.log");
  ASSERT_TRUE(again.Wait(60'000)) << again.log();
  EXPECT_EQ(again.exit_code(), 0) << again.log();
  EXPECT_THAT(again.log(), ::testing::HasSubstr("nothing to run"));
}

// `tasks check` on a declared task with a Python scorer or an LLM judge runs that scorer (the
// sandbox; the sim model as the judge), and says so and exits 2 when the judge's model cannot be
// called.
TEST(ExamplesTest, TasksCheckRunsPythonAndJudgeScorers) {
  TempDir dir;
  Proc show({Binary(), "tasks", "show", "arith_python", "--sweep", Example("declared.toml"),
             "--seed", "1"},
            dir / "show.log");
  ASSERT_TRUE(show.Wait(60'000));
  ASSERT_EQ(show.exit_code(), 0) << show.log();
  std::string log = show.log();
  size_t at = log.find("== ground truth\n");
  ASSERT_NE(at, std::string::npos) << log;
  std::string truth = log.substr(at + 16, log.find('\n', at + 16) - at - 16);
  auto check = [&](const std::string& task, const std::string& answer, const std::string& sweep) {
    auto p =
        std::make_unique<Proc>(std::vector<std::string>{Binary(), "tasks", "check", task, "--sweep",
                                                        sweep, "--seed", "1", "--answer", answer},
                               dir / "check.log");
    EXPECT_TRUE(p->Wait(60'000));
    return p;
  };
  auto right = check("arith_python", "It is <<<" + truth + ">>>", Example("declared.toml"));
  EXPECT_EQ(right->exit_code(), 0) << right->log();
  EXPECT_THAT(right->log(), ::testing::HasSubstr("correct: yes\n"));
  EXPECT_THAT(right->log(), ::testing::HasSubstr("reason: exact\n"));  // the scorer's own words
  EXPECT_THAT(right->log(), ::testing::HasSubstr("scorer: python ("));
  auto near = check("arith_python", "<<<" + truth + ".5>>>", Example("declared.toml"));
  EXPECT_EQ(near->exit_code(), 1) << near->log();
  EXPECT_THAT(near->log(), ::testing::HasSubstr("reason: off by "));

  // arith_judge serves its rows in its own seeded order: its own truth.
  Proc show_judge({Binary(), "tasks", "show", "arith_judge", "--sweep", Example("declared.toml"),
                   "--seed", "1"},
                  dir / "show_judge.log");
  ASSERT_TRUE(show_judge.Wait(60'000));
  log = show_judge.log();
  at = log.find("== ground truth\n");
  ASSERT_NE(at, std::string::npos) << log;
  truth = log.substr(at + 16, log.find('\n', at + 16) - at - 16);
  auto judged = check("arith_judge", "<<<" + truth + ">>>", Example("declared.toml"));
  EXPECT_EQ(judged->exit_code(), 0) << judged->log();
  EXPECT_THAT(judged->log(), ::testing::HasSubstr("reason: judge: "));
  EXPECT_THAT(judged->log(), ::testing::HasSubstr("scorer: judge (model sim:default)"));
  auto wrong = check("arith_judge", "<<<-1>>>", Example("declared.toml"));
  EXPECT_EQ(wrong->exit_code(), 1) << wrong->log();

  // A judge whose model needs a key that is not set: no verdict, exit status 2.
  std::ofstream(dir / "judge.toml")
      << "name = \"judge-offline\"\nmethods = [\"only_question\"]\n"
         "[models.\"openai:gpt-4o\"]\napi_key_env = \"CS_TEST_KEY_THAT_IS_NOT_SET\"\n"
         "[[tasks]]\nname = \"arith_judge\"\n"
         "dataset = \"" +
             std::string(CODESWEEP_SOURCE_DIR) +
             "/data/declared_example/arith.jsonl\"\n"
             "prompt = \"{question}\"\ntarget = \"{answer}\"\n"
             "scorer = { kind = \"judge\", model = \"openai:gpt-4o\" }\n";
  unsetenv("CS_TEST_KEY_THAT_IS_NOT_SET");
  auto offline = check("arith_judge", "<<<" + truth + ">>>", dir / "judge.toml");
  EXPECT_EQ(offline->exit_code(), 2) << offline->log();
  EXPECT_THAT(offline->log(), ::testing::HasSubstr("the judge scorer could not run"));
  EXPECT_THAT(offline->log(),
              ::testing::HasSubstr("scorer: judge (model openai:gpt-4o) (not run)"));
  EXPECT_THAT(offline->log(), ::testing::Not(::testing::HasSubstr("correct:")));
}

}  // namespace
}  // namespace codesweep::testing

namespace codesweep::testing {
namespace {

// examples/declared-methods.toml: declared methods of every code mode beside a built-in one.
TEST(ExamplesTest, DeclaredMethodsExampleRuns) {
  TempDir dir;
  std::string db = dir / "declared.db";
  Proc run({Binary(), "run", Example("declared-methods.toml"), "--db", db}, dir / "run.log");
  ASSERT_TRUE(run.Wait(300'000)) << run.log();
  ASSERT_EQ(run.exit_code(), 0) << run.log();
  // 12 instances x (all_code x2 turns, my_cot, text_only, tool_solver, refine x2 turns).
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM v_results"), 12 * 7);
  for (const char* method : {"my_cot", "text_only", "tool_solver", "refine"}) {
    EXPECT_GT(QueryInt(db, std::string("SELECT count(*) FROM v_results WHERE method = '") + method +
                               "' AND correct = 1"),
              0)
        << method;
  }
  EXPECT_EQ(QueryInt(db,
                     "SELECT count(*) FROM executions e JOIN jobs j ON j.id = e.job_id"
                     " WHERE j.method = 'text_only'"),
            0);
}

}  // namespace
}  // namespace codesweep::testing
