// The two scorers of declared tasks that need more than the answer text: a Python function run in
// the sandbox, and an LLM judge. This file holds their pure parts: the program the sandbox runs
// and how its output becomes a verdict; the judge's prompt and how its reply becomes a verdict.
// Running them (sandbox, rate-limited model call) is the runner's job. Every failure of a scorer
// (exception, timeout, crash, garbage, wrong type, an unparseable judge reply) is a verdict with
// a reason, never an error of the run. Pure functions; any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "jobs/tasks/declared/template.h"
#include "jobs/tasks/task.h"
#include "schema/types.h"

namespace codesweep {

// scorer = { kind = "python", file = "scorers/check.py", function = "score" }
struct PythonScorer {
  std::string file;      // resolved path, for messages
  std::string source;    // the file's text, read when the sweep is loaded
  std::string function;  // default "score"
};

// What the sandbox runs for one verdict: the scorer's source as the prelude (ExecRequest), then
// as the code a call of `function(answer, row, reply)` whose result is printed after a marker
// line. The function returns a bool (correct), a number in [0, 1] (the score; correct when 1), or
// a dict with `correct` (bool) and optionally `score` (number in [0, 1]) and `reason` (str).
// In fork-server mode the source is loaded once per warm server and each call runs in a fork of
// it; elsewhere source and call run as one program (PythonScorerProgram).
std::string PythonScorerCall(const PythonScorer& scorer, std::string_view answer,
                             const nlohmann::json& row, std::string_view reply);
// The whole program: the source, then the call.
std::string PythonScorerProgram(const PythonScorer& scorer, std::string_view answer,
                                const nlohmann::json& row, std::string_view reply);

// The verdict from a run of that program. `status` is the sandbox's word for how it ended (ok,
// error, timeout, memory, killed, output_limit, refused).
Verdict PythonScorerVerdict(std::string_view status, const ExecReport& run);

// scorer = { kind = "judge", model = "...", rubric = "..." }: the rubric is a template over the
// row's fields plus {question} (the prompt the model saw), {answer} (the extracted answer),
// {target} (accepted targets, joined with " | ") and {reply} (the whole reply).
struct JudgeScorer {
  std::string model;  // a model of the sweep, by its name there
  Template rubric;
};

// The default rubric: grade the answer against the reference, then end with GRADE: C or I.
const char* DefaultJudgeRubric();

// The judge's prompt for one verdict; fails naming a missing field.
Result<std::string> JudgePrompt(const JudgeScorer& judge, const nlohmann::json& row,
                                std::string_view question, std::string_view answer,
                                std::string_view target, std::string_view reply);

// The verdict in a judge's reply: the last "GRADE: C|I|P" (correct, incorrect, partial) line, or
// the last JSON object with a boolean "correct" (and optional "score"); the reasoning before it
// is kept as the reason. A reply that states no grade is incorrect with a reason saying so.
Verdict ParseJudgeVerdict(std::string_view reply);

}  // namespace codesweep
