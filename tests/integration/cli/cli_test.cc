// The read-side CLI as a user meets it: `status` after a SIGINT'ed run, `export` parsed back by
// Python's json and csv modules, `show` with the expected answer, the sweep file naming the
// database, "no such file" for a missing one, suggestions for typos, and --version.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "base/hash.h"
#include "coordinator/store/store.h"
#include "tests/integration/engine/harness.h"

namespace codesweep::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Runs `args` in `dir` (through sh, so relative paths resolve there); returns exit code and log.
std::pair<int, std::string> RunIn(const TempDir& dir, const std::string& dir_path,
                                  const std::string& args, const std::string& log_name = "cmd") {
  Proc p({"/bin/sh", "-c", "cd '" + dir_path + "' && exec " + args}, dir / (log_name + ".log"));
  if (!p.Wait(120'000)) return {-100, p.log()};
  return {p.exit_code(), p.log()};
}

std::string DirOf(const TempDir& dir) {
  std::string any = dir / "x";
  return any.substr(0, any.size() - 2);
}

TEST(CliTest, MistypedCommandOrFlagSuggestsTheClosest) {
  TempDir dir;
  auto [rc, log] = RunIn(dir, DirOf(dir), Binary() + " statsu --db x.db");
  EXPECT_EQ(rc, 2);
  EXPECT_THAT(log, HasSubstr("unknown command 'statsu'; did you mean 'status'?"));
  std::tie(rc, log) = RunIn(dir, DirOf(dir), Binary() + " report --db x.db --formt md");
  EXPECT_EQ(rc, 2);
  EXPECT_THAT(log, HasSubstr("unknown option '--formt'; did you mean '--format'?"));
  std::tie(rc, log) = RunIn(dir, DirOf(dir), Binary() + " --version");
  EXPECT_EQ(rc, 0);
  EXPECT_THAT(log, HasSubstr("codesweep 0."));
}

TEST(CliTest, MissingDatabaseSaysNoSuchFile) {
  TempDir dir;
  for (const std::string cmd : {"status --db nope.db", "report --db nope.db", "show 1 --db nope.db",
                                "cache stats --db nope.db", "export --db nope.db",
                                "status nope.toml", "report nope.toml"}) {
    auto [rc, log] = RunIn(dir, DirOf(dir), Binary() + " " + cmd);
    EXPECT_EQ(rc, 1) << cmd << ": " << log;
    EXPECT_THAT(log, HasSubstr("nope.db: no such file")) << cmd;
    EXPECT_THAT(log, Not(HasSubstr("NotFound"))) << cmd;
    EXPECT_THAT(log, Not(HasSubstr("InvalidArgument"))) << cmd;
  }
}

// Regression (issue 19): after Ctrl-C, status showed cells still leased with a rate and an ETA,
// and the resumed run said "N cells (0 new)" without saying how many remained.
TEST(CliTest, StatusAfterAnInterruptedRunTellsTheTruth) {
  TempDir dir;
  const std::string sweep = WriteSweep(dir, "slow", 50, /*latency_ms=*/150);  // 200 cells
  const std::string db = dir / "slow.db";
  {
    Proc run({"/bin/sh", "-c",
              "cd '" + DirOf(dir) + "' && exec " + Binary() + " run slow.toml --workers 2 -q"},
             dir / "run.log");
    ASSERT_TRUE(WaitFor([&] { return QueryInt(db, "SELECT count(*) FROM results") >= 3; }, 120'000))
        << run.log();
    run.Signal(SIGINT);
    ASSERT_TRUE(run.Wait(60'000));
    EXPECT_EQ(run.exit_code(), 130) << run.log();
  }
  const int64_t finished = QueryInt(db,
                                    "SELECT count(*) FROM jobs WHERE state IN "
                                    "('done', 'failed', 'dead')");
  ASSERT_LT(finished, 200);
  // The sweep file names the database, as for `run`.
  auto [rc, out] = RunIn(dir, DirOf(dir), Binary() + " status slow.toml --json", "status");
  ASSERT_EQ(rc, 0) << out;
  nlohmann::json doc = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << out;
  const nlohmann::json& s = doc["sweeps"][0];
  EXPECT_EQ(s["leased"], 0) << out;
  EXPECT_EQ(s["remaining"], 200 - finished) << out;
  EXPECT_EQ(s["rate_per_s"], 0.0) << out;
  EXPECT_EQ(s["eta"], "stopped") << out;
  // Provenance: the version and the hash of the sweep file that ran.
  std::ifstream in(sweep);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(s["last_run"]["sweep_sha256"], Sha256Hex(text)) << out;
  EXPECT_THAT(s["last_run"]["version"].get<std::string>(), HasSubstr("0.")) << out;
  EXPECT_EQ(s["last_run"]["command"], "run");

  std::tie(rc, out) = RunIn(dir, DirOf(dir), Binary() + " status slow.toml", "status_text");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_THAT(out, HasSubstr(std::to_string(200 - finished) + " cells remain to run")) << out;
  EXPECT_THAT(out, HasSubstr("stopped")) << out;
  std::tie(rc, out) = RunIn(dir, DirOf(dir), Binary() + " report slow.toml", "report");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_THAT(out, HasSubstr("Provenance: last run by codesweep")) << out;
  std::tie(rc, out) = RunIn(dir, DirOf(dir), Binary() + " cache stats slow.toml", "cache");
  EXPECT_EQ(rc, 0) << out;

  // The resumed run says how many cells remain.
  Proc again({"/bin/sh", "-c",
              "cd '" + DirOf(dir) + "' && exec " + Binary() + " run slow.toml --workers 1 -q"},
             dir / "again.log");
  ASSERT_TRUE(WaitFor([&] { return again.log().find("to run)") != std::string::npos; }, 60'000))
      << again.log();
  again.Signal(SIGINT);
  ASSERT_TRUE(again.Wait(60'000));
  EXPECT_THAT(again.log(),
              HasSubstr("200 cells (0 new, " + std::to_string(200 - finished) + " to run)"));
}

// A database with one finished cell whose model text is hostile: quotes, commas, line breaks,
// an escape sequence and bytes that are not UTF-8.
std::string HostileDb(const TempDir& dir, const std::string& answer) {
  const std::string db = dir / "hostile.db";
  auto store = Store::Open(db, {});
  EXPECT_TRUE(store.ok());
  SweepRecord sweep{"h", 1, 3, "h.toml", "", "{}"};
  int64_t sid = *(*store)->UpsertSweep(sweep);
  VariantRecord v;
  v.model = {"sim:x", "sim", "x", "{}"};
  int64_t vid = *(*store)->UpsertVariant(v);
  std::vector<CellRow> cells = {{CellKey("c1"), "game24", "4", 0, vid, "all_code", 1},
                                {CellKey("c2"), "boxlift", "", 1, vid, "all_text", 1}};
  EXPECT_TRUE((*store)->InsertCells(sid, cells).ok());
  auto page = *(*store)->FetchPending(1, JobId(0), 10);
  LeaseToken lease = *(*store)->LeaseJob(page[0].job, "w", 1'000'000);
  Outcome o;
  o.final_answer = answer;
  o.correct = false;
  o.verdict_reason = "wrong, \"badly\"\n";
  o.extra_json = R"({"target":"(1+2+3)*4"})";
  CallRecord c;
  c.request_json = R"({"messages":[{"role":"user","content":"q"}]})";
  c.response_json = nlohmann::json({{"content", answer}})
                        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  o.calls.push_back(c);
  EXPECT_TRUE((*store)->CompleteJob(page[0].job, lease, o, 2, 0).ok());
  EXPECT_TRUE((*store)->Commit().ok());
  return db;
}

TEST(CliTest, ExportParsesBackWithPythonAndShowGivesTheTarget) {
  TempDir dir;
  const std::string answer = "a,\"b\"\r\nc\x1b[31m\xff\xfe end";
  const std::string db = HostileDb(dir, answer);
  for (const std::string format : {"jsonl", "csv"}) {
    const std::string out = dir / ("cells." + format);
    auto [rc, log] =
        RunIn(dir, DirOf(dir),
              Binary() + " export --db hostile.db --transcript --format " + format + " -o " + out);
    ASSERT_EQ(rc, 0) << log;
    // Python reads every record back; the hostile answer survives (bad bytes as U+FFFD).
    const std::string check =
        "import csv, json, sys\n"
        "path, fmt = sys.argv[1], sys.argv[2]\n"
        "raw = open(path, 'rb').read().decode('utf-8')\n"
        "if fmt == 'jsonl':\n"
        "    rows = [json.loads(l) for l in raw.split('\\n') if l]\n"
        "else:\n"
        "    rows = list(csv.DictReader(open(path, newline='', encoding='utf-8')))\n"
        "assert len(rows) == 2, len(rows)\n"
        "r = rows[0]\n"
        "assert r['final_answer'] == 'a,\"b\"\\r\\nc\\x1b[31m\\ufffd\\ufffd end', "
        "repr(r['final_answer'])\n"
        "assert r['target'] == '(1+2+3)*4', r['target']\n"
        "assert str(r['state']) == 'done' and rows[1]['state'] == 'pending'\n"
        "t = r['transcript'] if fmt == 'jsonl' else json.loads(r['transcript'])\n"
        "assert t['calls'][0]['response']['content'] == r['final_answer']\n"
        "print('ok')\n";
    std::ofstream(dir / "check.py") << check;
    std::tie(rc, log) =
        RunIn(dir, DirOf(dir), "python3 check.py " + out + " " + format, "check_" + format);
    EXPECT_EQ(rc, 0) << format << ": " << log;
    EXPECT_THAT(log, HasSubstr("ok")) << format;
  }
  auto [rc, log] = RunIn(dir, DirOf(dir), Binary() + " show 1 --db hostile.db", "show");
  ASSERT_EQ(rc, 0) << log;
  EXPECT_THAT(log, HasSubstr("--- expected answer ---\n(1+2+3)*4\n"));
  EXPECT_THAT(log, HasSubstr("The reply did not pass."));
  EXPECT_THAT(log, Not(HasSubstr("passed by -")));
  // Filters: the game24 cell alone, listed.
  std::tie(rc, log) =
      RunIn(dir, DirOf(dir), Binary() + " show --db hostile.db --task game24", "show_list");
  ASSERT_EQ(rc, 0) << log;
  EXPECT_THAT(log, HasSubstr("1 cells match"));
  EXPECT_THAT(log, HasSubstr("game24"));
  EXPECT_THAT(log, Not(HasSubstr("boxlift")));
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM v_results WHERE target = '(1+2+3)*4'"), 1);
}

// Regression (issue 19): with the bubblewrap backend a busy loop of seconds reported a few ms of
// CPU (bubblewrap's own rusage, not the interpreter's). The loop spins until it has used 1 s of
// CPU, so the figure must reach about that (os.times() ticks in 10 ms) however loaded the
// machine is.
TEST(CliTest, ExecReportsTheCpuTimeOfABusyLoop) {
  TempDir dir;
  std::ofstream(dir / "busy.py") << "import time\nwhile time.process_time() < 1.0:\n    pass\n"
                                    "print('spun')\n";
  for (const std::string backend : {"native", "bwrap"}) {
    auto [rc, log] =
        RunIn(dir, DirOf(dir), Binary() + " exec busy.py --json --timeout 60s --backend " + backend,
              "exec_" + backend);
    if (rc != 0 && log.find("\"status\"") == std::string::npos) {
      std::printf("backend %s unavailable here: %s\n", backend.c_str(), log.c_str());
      continue;
    }
    nlohmann::json r = nlohmann::json::parse(log.substr(log.find('{')), nullptr, false);
    ASSERT_FALSE(r.is_discarded()) << log;
    ASSERT_EQ(r["status"], "ok") << log;
    EXPECT_GE(r["cpu_ms"].get<int64_t>(), 900) << backend << ": " << log;
  }
}

}  // namespace
}  // namespace codesweep::testing
