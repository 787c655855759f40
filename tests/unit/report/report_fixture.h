// Test fixture for reports: fills a store with finished cells through the Store API (sweep,
// variants, cells, lease, complete), with outcomes chosen by the test. Used by the report unit
// and integration tests; single-threaded.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/hash.h"
#include "coordinator/store/store.h"

namespace codesweep::testing {

struct FixtureCell {
  std::string model, task, complexity, method;
  int turns = 1;
  int64_t sample = 0;
};

struct FixtureSpec {
  std::string sweep = "fixture";
  std::vector<std::string> models;  // "provider:name"
  std::vector<std::string> methods;
  std::vector<std::pair<std::string, std::vector<std::string>>> tasks;  // task -> levels
  int samples = 10;
  int turns = 1;
  double temperature = 0.0;  // a second temperature is a second variant (setting) of a model
};

using OutcomeFn = std::function<Outcome(const FixtureCell&)>;

// An outcome with one call (a prompt and a reply) and, when `code` is set, one execution.
inline Outcome SimpleOutcome(bool correct, bool code, double score, int64_t tokens_in,
                             int64_t tokens_out, int64_t wall_ms, double cost_usd) {
  Outcome o;
  o.correct = correct;
  o.score = score;
  o.final_answer = correct ? "42" : "41";
  o.passed_by = correct ? (code ? "code" : "reply") : "";
  o.verdict_reason = correct ? "answer matches" : "expected 42, got 41";
  o.code_used = code;
  o.code_ok = code;
  o.turns_used = 1;
  o.tokens_in = tokens_in;
  o.tokens_out = tokens_out;
  o.wall_ms = wall_ms;
  o.cost_usd = cost_usd;
  CallRecord c;
  c.call_key = "k";
  c.request_json = R"({"messages":[{"role":"user","content":"What is 6*7?"}]})";
  c.response_json =
      code ? R"({"content":"```python\nprint(6*7)\n```"})" : R"({"content":"The answer is 41."})";
  c.tokens_in = tokens_in;
  c.tokens_out = tokens_out;
  c.latency_ms = wall_ms;
  c.http_status = 200;
  c.cost_usd = cost_usd;
  o.calls.push_back(c);
  if (code) {
    ExecutionRecord e;
    e.code = "print(6*7)";
    e.status = "ok";
    e.stdout_text = "42\n";
    e.tier = "plain";
    o.executions.push_back(e);
  }
  return o;
}

inline ModelSpec ModelFromId(const std::string& id) {
  ModelSpec m;
  m.id = id;
  size_t colon = id.find(':');
  m.provider = colon == std::string::npos ? id : id.substr(0, colon);
  m.name = colon == std::string::npos ? id : id.substr(colon + 1);
  return m;
}

inline Status InsertFixtureCells(Store& store, const FixtureSpec& spec, int64_t sweep_id,
                                 std::map<int64_t, std::string>& model_of_variant) {
  std::vector<CellRow> cells;
  for (const std::string& model : spec.models) {
    VariantRecord v;
    v.model = ModelFromId(model);
    v.gen.temperature = spec.temperature;
    CS_ASSIGN_OR_RETURN(int64_t variant, store.UpsertVariant(v));
    model_of_variant[variant] = model;
    for (const auto& [task, levels] : spec.tasks) {
      for (const std::string& level : levels) {
        for (int s = 0; s < spec.samples; ++s) {
          for (const std::string& method : spec.methods) {
            std::string id = spec.sweep + "|" + model + "|" + task + "|" + level + "|" +
                             std::to_string(s) + "|" + method + "|" + std::to_string(spec.turns) +
                             "|" + std::to_string(variant);
            cells.push_back({CellKey(Sha256Hex(id)), task, level, s, variant, method, spec.turns});
          }
        }
      }
    }
  }
  return store.InsertCells(sweep_id, cells).status();
}

// Inserts every cell of `spec` and completes it with `fn`'s outcome. Returns the cell count.
inline Result<int64_t> FillFixture(Store& store, const FixtureSpec& spec, const OutcomeFn& fn) {
  SweepRecord sweep;
  sweep.name = spec.sweep;
  CS_ASSIGN_OR_RETURN(int64_t sweep_id, store.UpsertSweep(sweep));
  std::map<int64_t, std::string> model_of_variant;
  CS_RETURN_IF_ERROR(InsertFixtureCells(store, spec, sweep_id, model_of_variant));
  CS_RETURN_IF_ERROR(store.Commit());
  const int64_t now = 1'000'000;
  int64_t done = 0;
  while (true) {
    CS_ASSIGN_OR_RETURN(std::vector<JobRow> page, store.FetchPending(now, JobId(0), 2000));
    if (page.empty()) break;
    for (const JobRow& j : page) {
      CS_ASSIGN_OR_RETURN(LeaseToken lease, store.LeaseJob(j.job, "fixture-worker", now + 60'000));
      FixtureCell cell{
          model_of_variant[j.variant_id], j.task, j.complexity, j.method, j.turns, j.sample};
      CS_ASSIGN_OR_RETURN(CompleteResult r, store.CompleteJob(j.job, lease, fn(cell), now, now));
      if (r != CompleteResult::kAccepted) return Status::Internal("fixture completion was stale");
      ++done;
    }
    CS_RETURN_IF_ERROR(store.Commit());
  }
  return done;
}

}  // namespace codesweep::testing
