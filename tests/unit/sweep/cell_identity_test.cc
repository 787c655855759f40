// Cell identity: for every sweep-file option, whether it changes the cell key, the call key, or
// neither (the table of docs/design.md, "Cell identity"); and what a grid load does with jobs
// stored under another transport setting or under the old key definition.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "base/hash.h"
#include "coordinator/sweep/grid.h"
#include "jobs/llm/llm_client.h"
#include "jobs/methods/method.h"
#include "tests/unit/sweep/fake_task.h"

namespace codesweep {
namespace {

constexpr const char* kHead = R"(
name = "id"
seed = 1
samples = 2
methods = ["only_question", "code_interpreter"]
turns = [1, 2]
[[tasks]]
name = "fake"
complexity = ["1", "2"]
)";

// The model table is last so that one appended line lands in it.
constexpr const char* kModel = R"(
[models."openai:m"]
base_url = "http://127.0.0.1:1/v1"
)";

enum class Effect { kNeither, kCellOnly, kCellAndCall };

struct OptionCase {
  const char* option;  // what the edit is about
  const char* head;    // appended to kHead ("" = none)
  const char* model;   // appended to the model table ("" = none)
  Effect effect;
};

// Every option a sweep file has. Sweep-level options change no call key of a given request (the
// seed and the method change the requests a cell makes, not the key of one request).
const OptionCase kCases[] = {
    // transport and accounting: neither key
    {"base_url", "", "base_url = \"http://10.0.0.2:9/v1\"\n", Effect::kNeither},
    {"api_key_env", "", "api_key_env = \"OTHER_KEY\"\n", Effect::kNeither},
    {"key_alias", "", "key_alias = \"team-b\"\n", Effect::kNeither},
    {"headers", "", "headers = { X-Org = \"a\" }\n", Effect::kNeither},
    {"timeouts", "", "timeouts = { total_ms = 999000 }\n", Effect::kNeither},
    {"timeout_ms", "", "timeout_ms = 999000\n", Effect::kNeither},
    {"connect_timeout_ms", "", "connect_timeout_ms = 5000\n", Effect::kNeither},
    {"retry", "", "retry = { max_attempts = 9 }\n", Effect::kNeither},
    {"max_attempts (model)", "", "max_attempts = 9\n", Effect::kNeither},
    {"price", "", "price = { input = 1.0, output = 2.0 }\n", Effect::kNeither},
    {"cell_context_header", "", "cell_context_header = true\n", Effect::kNeither},
    {"rpm", "", "rpm = 60\n", Effect::kNeither},
    {"tpm", "", "tpm = 1000\n", Effect::kNeither},
    {"input_tpm", "", "input_tpm = 1000\n", Effect::kNeither},
    {"output_tpm", "", "output_tpm = 1000\n", Effect::kNeither},
    {"max_concurrency", "", "max_concurrency = 3\n", Effect::kNeither},
    {"reserve", "", "reserve = 0.5\n", Effect::kNeither},
    // batch mode (docs/batch.md): the same calls, sent another way
    {"batch", "", "batch = true\n", Effect::kNeither},
    {"batch_max_requests", "", "batch_max_requests = 10\nbatch = true\n", Effect::kNeither},
    {"batch_max_bytes", "", "batch_max_bytes = 100000\nbatch = true\n", Effect::kNeither},
    {"batch_flush_s", "", "batch_flush_s = 5\nbatch = true\n", Effect::kNeither},
    {"batch_poll_s", "", "batch_poll_s = 2\nbatch = true\n", Effect::kNeither},
    {"batch_max_enqueued_tokens", "", "batch_max_enqueued_tokens = 90000\nbatch = true\n",
     Effect::kNeither},
    {"max_attempts (sweep)", "max_attempts = 7\n", "", Effect::kNeither},
    {"description", "description = \"x\"\n", "", Effect::kNeither},
    {"epochs (first draw)", "epochs = 3\n", "", Effect::kNeither},
    // what the model is asked and how it samples: both keys
    {"temperature", "", "temperature = 0.3\n", Effect::kCellAndCall},
    {"top_p", "", "top_p = 0.5\n", Effect::kCellAndCall},
    {"max_tokens", "", "max_tokens = 77\n", Effect::kCellAndCall},
    {"seed (model)", "", "seed = 5\n", Effect::kCellAndCall},
    {"stop", "", "stop = [\"END\"]\n", Effect::kCellAndCall},
    {"anthropic_version", "", "anthropic_version = \"2024-01-01\"\n", Effect::kCellAndCall},
    {"capabilities", "", "capabilities = { system_message = false }\n", Effect::kCellAndCall},
    {"extra_body", "", "extra_body = { reasoning_effort = \"high\" }\n", Effect::kCellAndCall},
    // what the cell is: the cell key (its requests follow from it)
    {"name", "name = \"id2\"\n", "", Effect::kCellOnly},
    {"seed (sweep)", "seed = 2\n", "", Effect::kCellOnly},
    {"sandbox", "[sandbox]\nwall_ms = 1234\n", "", Effect::kCellOnly},
};

class CellIdentityTest : public ::testing::Test {
 protected:
  CellIdentityTest() { registry_.Add(std::make_unique<FakeTask>()); }
  SweepConfig Parse(const std::string& head, const std::string& model) {
    // Later TOML keys of the head override the defaults by replacing their line.
    std::string text = kHead;
    for (const char* key : {"name = ", "seed = "}) {
      if (head.starts_with(key))
        text.erase(text.find(key), text.find('\n', text.find(key)) - text.find(key) + 1);
    }
    std::string sandbox;
    std::string top = head;
    if (size_t at = top.find("[sandbox]"); at != std::string::npos) {
      sandbox = top.substr(at);
      top = top.substr(0, at);
    }
    std::string table = kModel;  // an edited base_url replaces the default one
    if (model.starts_with("base_url")) table.erase(table.find("base_url"));
    text = top + text + table + model + sandbox;
    auto c = ParseSweep(text, "id.toml", registry_);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? *c : SweepConfig{};
  }
  static std::set<std::string> FirstDrawKeys(const SweepConfig& c) {
    std::set<std::string> keys;
    ForEachCell(c, [&](const GridCell& g) {
      if (g.epoch == 0) keys.insert(g.cell.value());
      return true;
    });
    return keys;
  }
  static std::string CallKeyOf(const SweepConfig& c) {
    LlmRequest r;
    r.messages.push_back({.role = "user", .content = "What is 2*3?"});
    r.gen = c.models.at(0).gen;
    return ComputeCallKey(c.models.at(0).spec, r).value();
  }
  TaskRegistry registry_;
};

TEST_F(CellIdentityTest, EveryOptionChangesTheKeysItShould) {
  SweepConfig base = Parse("", "");
  const std::set<std::string> base_keys = FirstDrawKeys(base);
  const std::string base_call = CallKeyOf(base);
  for (const OptionCase& oc : kCases) {
    SweepConfig edited = Parse(oc.head, oc.model);
    std::set<std::string> keys = FirstDrawKeys(edited);
    const bool cell_changed = keys != base_keys;
    const bool call_changed = CallKeyOf(edited) != base_call;
    EXPECT_EQ(cell_changed, oc.effect != Effect::kNeither) << oc.option;
    EXPECT_EQ(call_changed, oc.effect == Effect::kCellAndCall) << oc.option;
  }
}

// The cases cover every model option the call key leaves out: a name added to the list must get
// a row (and a line in docs/design.md).
TEST_F(CellIdentityTest, TheTableCoversEveryNonOutputOption) {
  for (const std::string& key : NonOutputOptionKeys()) {
    if (key == "latency_ms" || key == "latency_jitter_ms") continue;  // sim only: next test
    bool found = std::any_of(std::begin(kCases), std::end(kCases), [&](const OptionCase& oc) {
      return std::string(oc.model).starts_with(key + " =");
    });
    EXPECT_TRUE(found) << key;
  }
}

TEST_F(CellIdentityTest, SimLatencyIsNotIdentityButItsAnswersAre) {
  auto parse = [&](const std::string& opts) {
    auto c = ParseSweep(std::string(kHead) + "[models.\"sim:s\"]\n" + opts, "id.toml", registry_);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return *c;
  };
  SweepConfig base = parse("");
  EXPECT_EQ(FirstDrawKeys(base), FirstDrawKeys(parse("latency_ms = 50\nlatency_jitter_ms = 5\n")));
  EXPECT_EQ(CallKeyOf(base), CallKeyOf(parse("latency_ms = 50\n")));
  EXPECT_NE(FirstDrawKeys(base), FirstDrawKeys(parse("p_correct = 0.1\n")));
  EXPECT_NE(CallKeyOf(base), CallKeyOf(parse("p_correct = 0.1\n")));
}

TEST_F(CellIdentityTest, EpochsAddDrawsAndKeepTheFirst) {
  SweepConfig one = Parse("", "");
  SweepConfig three = Parse("epochs = 3\n", "");
  EXPECT_EQ(GridSize(three), 3 * GridSize(one));
  std::set<std::string> all;
  std::set<int> epochs;
  ForEachCell(three, [&](const GridCell& g) {
    all.insert(g.cell.value());
    epochs.insert(g.epoch);
    return true;
  });
  EXPECT_EQ(static_cast<int64_t>(all.size()), GridSize(three));  // every draw its own cell
  EXPECT_EQ(epochs, (std::set<int>{0, 1, 2}));
  for (const std::string& k : FirstDrawKeys(one)) EXPECT_TRUE(all.count(k)) << k;
}

// ---- grid loads into a real store ----

class CellIdentityStoreTest : public CellIdentityTest {
 protected:
  CellIdentityStoreTest() {
    dir_ = (std::filesystem::temp_directory_path() /
            ("cs_identity_" + std::to_string(getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    std::filesystem::create_directories(dir_);
  }
  ~CellIdentityStoreTest() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<Store> Open() {
    auto store = Store::Open(dir_ + "/id.db", StoreOptions{});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }
  // Runs SQL on the database file with a connection of its own.
  void Sql(const std::string& sql) {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ + "/id.db").c_str(), &raw), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << (err ? err : "") << " in " << sql;
    sqlite3_free(err);
    sqlite3_close(raw);
  }
  int64_t Count(const std::string& sql) {
    sqlite3* raw = nullptr;
    EXPECT_EQ(sqlite3_open((dir_ + "/id.db").c_str(), &raw), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(raw, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    int64_t n = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
    sqlite3_finalize(stmt);
    sqlite3_close(raw);
    return n;
  }
  // The base_url every job's variant gives.
  std::set<std::string> JobBaseUrls() {
    std::set<std::string> urls;
    sqlite3* raw = nullptr;
    EXPECT_EQ(sqlite3_open((dir_ + "/id.db").c_str(), &raw), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(raw,
                       "SELECT DISTINCT json_extract(v.options_json, '$.base_url') FROM jobs j"
                       " JOIN variants v ON v.id = j.variant_id",
                       -1, &stmt, nullptr);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      urls.insert(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
    }
    sqlite3_finalize(stmt);
    sqlite3_close(raw);
    return urls;
  }
  std::string dir_;
};

// Raising a timeout used to give every finished cell a twin (timeouts were in the key), which the
// report counted twice.
TEST_F(CellIdentityStoreTest, RaisingATimeoutAddsNoCells) {
  auto store = Open();
  SweepConfig base = Parse("", "timeouts = { total_ms = 60000 }\n");
  auto first = ExpandIntoStore(base, *store);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  Sql("UPDATE jobs SET state = 'done' WHERE id % 2 = 0");
  auto raised = ExpandIntoStore(Parse("", "timeouts = { total_ms = 600000 }\n"), *store);
  ASSERT_TRUE(raised.ok()) << raised.status().ToString();
  EXPECT_EQ(raised->inserted, 0);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs"), GridSize(base));
  EXPECT_EQ(Count("SELECT count(DISTINCT variant_id) FROM jobs"), 1);  // one setting in reports
}

// Moving the server: every stored job of the sweep (pending, finished, failed) now gives the new
// base_url, so the remaining cells are dispatched to it.
TEST_F(CellIdentityStoreTest, StoredJobsFollowTheCurrentTransport) {
  auto store = Open();
  auto first = ExpandIntoStore(Parse("", ""), *store);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  Sql("UPDATE jobs SET state = 'done' WHERE id % 3 = 0;"
      "UPDATE jobs SET state = 'failed' WHERE id % 3 = 1");
  EXPECT_EQ(JobBaseUrls(), (std::set<std::string>{"http://127.0.0.1:1/v1"}));
  auto moved = ExpandIntoStore(Parse("", "base_url = \"http://127.0.0.1:2/v1\"\n"), *store);
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(moved->inserted, 0);
  EXPECT_EQ(JobBaseUrls(), (std::set<std::string>{"http://127.0.0.1:2/v1"}));
  // And back again (the old variant row is reused).
  auto back = ExpandIntoStore(Parse("", ""), *store);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(JobBaseUrls(), (std::set<std::string>{"http://127.0.0.1:1/v1"}));
  auto row = store->FetchPending(INT64_MAX, JobId(0), 1);
  ASSERT_TRUE(row.ok() && !row->empty());
  auto variant = store->GetVariant(row->front().variant_id);
  ASSERT_TRUE(variant.ok());
  EXPECT_NE(variant->model.options_json.find("127.0.0.1:1"), std::string::npos);
}

// The key of the first definition (timeouts, retry, price, key_alias in it), computed the old way.
std::string OldKey(const SweepConfig& c, const GridCell& g) {
  const ModelConfig& m = c.models[g.model_index];
  nlohmann::json gen = {{"temperature", m.gen.temperature},
                        {"top_p", m.gen.top_p},
                        {"max_tokens", m.gen.max_tokens},
                        {"stop", m.gen.stop}};
  if (m.gen.seed) gen["seed"] = *m.gen.seed;
  const MethodInfo* info = FindMethod(g.method);
  nlohmann::json combo = {{"model", m.spec.id},
                          {"options", nlohmann::json::parse(LegacyV1KeyOptions(m.spec))},
                          {"gen", gen},
                          {"method", g.method},
                          {"prompt_version", info->prompt_version},
                          {"turns", g.turns},
                          {"sandbox", nlohmann::json::parse(c.sandbox_json)}};
  nlohmann::json task = {{"v", 1},
                         {"sweep", c.name},
                         {"seed", c.seed},
                         {"task", g.task},
                         {"complexity", g.complexity}};
  return Sha256Hex(task.dump() + "|sample=" + std::to_string(g.sample) + "|" + combo.dump());
}

// A database made before the fix: jobs keyed the old way (timeouts and price in the key), some
// finished, and the digest of the old binary. Running the sweep again with the new binary, also
// with a raised timeout, adds no cell: the old jobs take their new keys.
TEST_F(CellIdentityStoreTest, UpgradeFromOldKeysCreatesNoDuplicates) {
  const std::string old_opts = "timeouts = { total_ms = 60000 }\nprice = { input = 1.0 }\n";
  SweepConfig old_config = Parse("", old_opts);
  {
    auto store = Open();
    auto variant = store->UpsertVariant(
        {old_config.models[0].spec, old_config.models[0].gen, old_config.sandbox_json});
    ASSERT_TRUE(variant.ok());
    SweepRecord rec{old_config.name, old_config.seed, 3, "id.toml", "", "{}"};
    auto sweep = store->UpsertSweep(rec);
    ASSERT_TRUE(sweep.ok()) << sweep.status().ToString();
    std::vector<CellRow> rows;
    ForEachCell(old_config, [&](const GridCell& g) {
      rows.push_back({CellKey(OldKey(old_config, g)), g.task, g.complexity, g.sample, *variant,
                      g.method, g.turns});
      return true;
    });
    ASSERT_TRUE(store->InsertCells(*sweep, rows).ok());
    ASSERT_TRUE(store->SetGridDigest(*sweep, "0123abcd 16").ok());  // an old binary's digest
    ASSERT_TRUE(store->Commit().ok());
  }
  // Sanity: the old keys are not the new ones (else this test could not fail).
  std::set<std::string> new_keys = FirstDrawKeys(old_config);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs WHERE lower(hex(cell_key)) IN ('" +
                  [&] {
                    std::string l;
                    for (const auto& k : new_keys) l += (l.empty() ? "" : "','") + k;
                    return l;
                  }() +
                  "')"),
            0);
  Sql("UPDATE jobs SET state = 'done' WHERE id % 2 = 0");
  auto store = Open();
  auto raised = ExpandIntoStore(Parse("", "timeouts = { total_ms = 90000 }\n"), *store);
  ASSERT_TRUE(raised.ok()) << raised.status().ToString();
  EXPECT_EQ(raised->inserted, 0);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs"), GridSize(old_config));
  EXPECT_EQ(Count("SELECT count(*) FROM jobs WHERE state = 'done'"), GridSize(old_config) / 2);
  EXPECT_EQ(Count("SELECT count(DISTINCT variant_id) FROM jobs"), 1);
  auto again = ExpandIntoStore(Parse("", "timeouts = { total_ms = 90000 }\n"), *store);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->inserted, 0);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs"), GridSize(old_config));
}

TEST_F(CellIdentityStoreTest, EpochsAreStoredAndRaisingThemAddsOnlyNewDraws) {
  auto store = Open();
  auto one = ExpandIntoStore(Parse("", ""), *store);
  ASSERT_TRUE(one.ok());
  auto three = ExpandIntoStore(Parse("epochs = 3\n", ""), *store);
  ASSERT_TRUE(three.ok()) << three.status().ToString();
  EXPECT_EQ(three->inserted, 2 * one->inserted);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs WHERE epoch = 0"), one->inserted);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs WHERE epoch = 2"), one->inserted);
  auto rows = store->FetchPending(INT64_MAX, JobId(0), 100000);
  ASSERT_TRUE(rows.ok());
  std::set<int> epochs;
  for (const JobRow& r : *rows) epochs.insert(r.epoch);
  EXPECT_EQ(epochs, (std::set<int>{0, 1, 2}));
}

}  // namespace
}  // namespace codesweep
