// Batch mode test helpers (integration_batch, fault_batch): fakellm's scripted answers, the
// verdicts of a run cell by cell, fakellm's batch counters. Builds on the fakellm harness.
#pragma once

#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/ratelimit/fakellm_harness.h"

namespace codesweep::testing {

// fakellm's scripted answers, by turn of the conversation (the number of assistant messages):
// code that prints the answer, then the answer, then the answer with TERMINATE. Every method
// gets the same script, so a batch run and a synchronous run see the same replies.
inline std::string WriteBatchReplay(const TempDir& dir) {
  const std::string path = dir / "replay.json";
  nlohmann::json code = {{"content", "```python\nprint('<<<42>>>')\n```"},
                         {"finish_reason", "stop"}};
  nlohmann::json answer = {{"content", "<<<42>>>"}, {"finish_reason", "stop"}};
  nlohmann::json done = {{"content", "<<<42>>> TERMINATE"}, {"finish_reason", "stop"}};
  nlohmann::json replay = {{"sequences", {{"*", nlohmann::json::array({code, answer, done})}}},
                           {"default", done}};
  std::ofstream(path) << replay.dump();
  return path;
}

// (model, task, complexity, sample, method, turns) ->
// "correct|final_answer|turns_used|executions|calls".
inline std::map<std::string, std::string> Verdicts(const std::string& db) {
  QueryTable t =
      Query(db,
            "SELECT v.model || '/' || j.task || '/' || j.complexity || '/' ||"
            " j.sample || '/' || j.method || '/' || j.turns, r.correct || '|' || r.final_answer ||"
            " '|' || r.turns_used || '|' || r.n_executions || '|' || r.n_calls FROM results r"
            " JOIN jobs j ON j.id = r.job_id JOIN variants v ON v.id = j.variant_id");
  std::map<std::string, std::string> out;
  for (const auto& row : t.rows) {
    if (row.size() == 2 && row[0] && row[1]) out[*row[0]] = *row[1];
  }
  return out;
}

// The first column of the first row as a number (0 when NULL or absent).
inline double QueryDouble(const std::string& db, const std::string& sql) {
  QueryTable t = Query(db, sql);
  if (t.rows.empty() || t.rows[0].empty() || !t.rows[0][0]) return 0;
  return std::atof(t.rows[0][0]->c_str());
}

// fakellm's batch counters (GET /stats "batch").
inline nlohmann::json BatchStats(FakeLlm& llm) {
  nlohmann::json s = llm.Stats();
  return s.contains("batch") ? s["batch"] : nlohmann::json::object();
}

}  // namespace codesweep::testing
