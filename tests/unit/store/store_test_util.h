// Helpers shared by the store unit tests: a temp directory per test, a migrated store with one
// sweep and one variant, and cell rows with real (hex SHA-256) or arbitrary keys.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/hash.h"
#include "coordinator/store/store.h"

namespace codesweep::testing_store {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cs_store_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline CellKey Key(int i) { return CellKey(Sha256Hex("cell-" + std::to_string(i))); }

inline std::vector<CellRow> Cells(int64_t variant_id, int from, int to) {
  std::vector<CellRow> cells;
  for (int i = from; i < to; ++i) {
    CellRow c;
    c.cell = Key(i);
    c.task = "game24";
    c.complexity = std::to_string(i % 3);
    c.sample = i;
    c.variant_id = variant_id;
    c.method = "only_question";
    c.turns = 1;
    cells.push_back(c);
  }
  return cells;
}

inline VariantRecord SimVariant(const std::string& name = "default") {
  VariantRecord v;
  v.model.id = "sim:" + name;
  v.model.provider = "sim";
  v.model.name = name;
  return v;
}

// A fresh store with sweep "s1" (max_attempts as given) and one sim variant.
struct Fixture {
  std::unique_ptr<Store> store;
  int64_t sweep_id = 0;
  int64_t variant_id = 0;
};

inline Fixture MakeFixture(const std::string& path, int max_attempts = 3) {
  Fixture f;
  auto opened = Store::Open(path, StoreOptions{});
  EXPECT_TRUE(opened.ok()) << opened.status().ToString();
  f.store = std::move(opened).value();
  SweepRecord sweep;
  sweep.name = "s1";
  sweep.seed = 7;
  sweep.max_attempts = max_attempts;
  auto sid = f.store->UpsertSweep(sweep);
  EXPECT_TRUE(sid.ok()) << sid.status().ToString();
  f.sweep_id = *sid;
  auto vid = f.store->UpsertVariant(SimVariant());
  EXPECT_TRUE(vid.ok()) << vid.status().ToString();
  f.variant_id = *vid;
  return f;
}

inline Outcome Verdict(bool correct) {
  Outcome o;
  o.final_answer = "24";
  o.correct = correct;
  o.score = correct ? 1.0 : 0.0;
  o.passed_by = correct ? "reply" : "";
  o.verdict_reason = "checked";
  o.turns_used = 1;
  o.tokens_in = 100;
  o.tokens_out = 20;
  CallRecord call;
  call.call_key = "ck";
  call.request_json = "{}";
  call.response_json = "{\"text\":\"24\"}";
  o.calls.push_back(call);
  ExecutionRecord exec;
  exec.code = "print(24)";
  exec.status = "ok";
  exec.stdout_text = "24\n";
  o.executions.push_back(exec);
  return o;
}

inline Outcome Failure(bool retryable, const std::string& error) {
  Outcome o;
  o.failed = true;
  o.retryable = retryable;
  o.error = error;
  return o;
}

}  // namespace codesweep::testing_store
