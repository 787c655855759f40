#include "jobs/tasks/declared/model_scorers.h"

#include <cmath>

#include "base/json_depth.h"
#include "base/utf8.h"
#include "jobs/tasks/common.h"

namespace codesweep {
namespace {

constexpr std::string_view kMarker =
    "\x1e"
    "codesweep-verdict ";

Verdict Incorrect(std::string reason, double score = 0) {
  Verdict v;
  v.score = score;
  v.reason = std::move(reason);
  return v;
}

// The verdict a scorer's return value (as JSON) stands for.
Verdict FromReturnValue(const nlohmann::json& r) {
  auto score_of = [](const nlohmann::json& s) -> std::optional<double> {
    if (!s.is_number()) return std::nullopt;
    double d = s.get<double>();
    if (!std::isfinite(d) || d < 0 || d > 1) return std::nullopt;
    return d;
  };
  Verdict v;
  if (r.is_boolean()) {
    v.correct = r.get<bool>();
    v.score = v.correct ? 1 : 0;
    v.reason = v.correct ? "ok" : "the scorer said incorrect";
    return v;
  }
  if (r.is_number()) {
    std::optional<double> s = score_of(r);
    if (!s) return Incorrect("the scorer returned " + r.dump() + ", not a score in [0, 1]");
    v.score = *s;
    v.correct = *s >= 1.0;
    v.reason = v.correct ? "ok" : "partial score from the scorer";
    return v;
  }
  if (r.is_object() && r.contains("correct") && r["correct"].is_boolean()) {
    v.correct = r["correct"].get<bool>();
    v.score = v.correct ? 1 : 0;
    if (r.contains("score") && !r["score"].is_null()) {
      std::optional<double> s = score_of(r["score"]);
      if (!s) return Incorrect("the scorer's score " + r["score"].dump() + " is not in [0, 1]");
      v.score = *s;
    }
    v.reason = r.contains("reason") && r["reason"].is_string()
                   ? TruncateUtf8(r["reason"].get<std::string>(), 2000)
                   : (v.correct ? "ok" : "the scorer said incorrect");
    return v;
  }
  std::string shown =
      TruncateUtf8(r.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), 200);
  return Incorrect("the scorer returned " + shown +
                   ", not a bool, a number in [0, 1] or a dict with 'correct'");
}

}  // namespace

std::string PythonScorerCall(const PythonScorer& scorer, std::string_view answer,
                             const nlohmann::json& row, std::string_view reply) {
  nlohmann::json args = {{"answer", ValidUtf8(answer)}, {"row", row}, {"reply", ValidUtf8(reply)}};
  std::string function = scorer.function.empty() ? "score" : scorer.function;
  return "\n# --- added by codesweep: call the scorer and print its verdict ---\n"
         "import json as _cs_json, sys as _cs_sys\n"
         "_cs_args = _cs_json.loads(" +
         PyStringLiteral(args.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace)) +
         ")\n"
         "_cs_result = " +
         function +
         "(_cs_args['answer'], _cs_args['row'], _cs_args['reply'])\n"
         "try:\n"
         "    _cs_text = _cs_json.dumps(_cs_result, allow_nan=False)\n"
         "except (TypeError, ValueError):\n"
         "    _cs_text = _cs_json.dumps({'__unserializable__': type(_cs_result).__name__})\n"
         "_cs_sys.stdout.flush()\n"
         "print(" +
         PyStringLiteral(kMarker) + " + _cs_text, flush=True)\n";
}

std::string PythonScorerProgram(const PythonScorer& scorer, std::string_view answer,
                                const nlohmann::json& row, std::string_view reply) {
  std::string program = scorer.source;
  if (!program.empty() && program.back() != '\n') program += '\n';
  return program + PythonScorerCall(scorer, answer, row, reply);
}

Verdict PythonScorerVerdict(std::string_view status, const ExecReport& run) {
  if (status == "timeout") return Incorrect("the Python scorer timed out");
  if (status == "memory") return Incorrect("the Python scorer ran out of memory");
  if (status == "output_limit") return Incorrect("the Python scorer printed too much");
  if (status == "refused") return Incorrect("the sandbox refused the Python scorer");
  if (status == "killed" || run.signal != 0) {
    return Incorrect("the Python scorer was killed" +
                     (run.signal != 0 ? " by signal " + std::to_string(run.signal) : ""));
  }
  if (run.exit_code != 0 || status == "error") {
    // The last line of the traceback says what went wrong.
    std::string_view err = TrimAscii(run.stderr_text);
    size_t nl = err.rfind('\n');
    std::string last(nl == std::string_view::npos ? err : err.substr(nl + 1));
    return Incorrect(
        "the Python scorer failed: " +
        TruncateUtf8(
            ValidUtf8(last.empty() ? "exit status " + std::to_string(run.exit_code) : last), 300));
  }
  size_t at = run.stdout_text.rfind(kMarker);
  if (at == std::string::npos) return Incorrect("the Python scorer printed no verdict");
  std::string_view text = std::string_view(run.stdout_text).substr(at + kMarker.size());
  size_t end = text.find('\n');
  if (end != std::string_view::npos) text = text.substr(0, end);
  if (JsonTooDeep(text)) return Incorrect("the Python scorer's result is nested too deeply");
  nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
  if (value.is_discarded()) return Incorrect("the Python scorer's verdict is not readable");
  if (value.is_object() && value.contains("__unserializable__")) {
    return Incorrect("the scorer returned a " +
                     TruncateUtf8(ValidUtf8(value["__unserializable__"].dump()), 60) +
                     ", not a bool, a number in [0, 1] or a dict with 'correct'");
  }
  return FromReturnValue(value);
}

const char* DefaultJudgeRubric() {
  return "You are grading an answer to a question against a reference answer.\n\n"
         "Question:\n{question}\n\nReference answer:\n{target}\n\nSubmitted answer:\n{answer}\n\n"
         "Decide whether the submitted answer means the same as the reference. Explain briefly, "
         "then end with a last line that is exactly GRADE: C (correct), GRADE: P (partially "
         "correct) or GRADE: I (incorrect).";
}

Result<std::string> JudgePrompt(const JudgeScorer& judge, const nlohmann::json& row,
                                std::string_view question, std::string_view answer,
                                std::string_view target, std::string_view reply) {
  nlohmann::json fields = row.is_object() ? row : nlohmann::json::object();
  fields["question"] = ValidUtf8(question);
  fields["answer"] = ValidUtf8(answer);
  fields["target"] = ValidUtf8(target);
  fields["reply"] = ValidUtf8(reply);
  return judge.rubric.Render(fields);
}

Verdict ParseJudgeVerdict(std::string_view reply) {
  std::string text = ValidUtf8(reply);
  // The last "GRADE: X" wins (a judge may quote the instruction before answering).
  size_t best = std::string::npos;
  char grade = 0;
  for (size_t at = FindNoCase(text, "grade"); at != std::string::npos;
       at = FindNoCase(text, "grade", at + 1)) {
    size_t i = at + 5;
    while (i < text.size() && (text[i] == ' ' || text[i] == '*' || text[i] == ':')) ++i;
    if (i >= text.size()) break;
    char c = static_cast<char>(std::toupper(static_cast<unsigned char>(text[i])));
    bool alone = i + 1 >= text.size() || !std::isalpha(static_cast<unsigned char>(text[i + 1]));
    if ((c == 'C' || c == 'I' || c == 'P') && alone && text.find(':', at) < i) {
      best = at;
      grade = c;
    }
  }
  std::string reasoning;
  Verdict v;
  if (grade != 0) {
    reasoning = std::string(TrimAscii(std::string_view(text).substr(0, best)));
    v.correct = grade == 'C';
    v.score = grade == 'C' ? 1.0 : grade == 'P' ? 0.5 : 0.0;
  } else {
    // A JSON object with a boolean "correct".
    size_t close = text.rfind('}');
    bool found = false;
    for (size_t pos = close; close != std::string::npos && pos > 0 && !found;) {
      pos = text.rfind('{', pos - 1);
      if (pos == std::string::npos) break;
      std::string_view candidate = std::string_view(text).substr(pos, close - pos + 1);
      if (JsonTooDeep(candidate)) break;
      nlohmann::json j = nlohmann::json::parse(candidate, nullptr, false);
      if (j.is_object() && j.contains("correct") && j["correct"].is_boolean()) {
        Verdict r = FromReturnValue(j);
        v.correct = r.correct;
        v.score = r.score;
        reasoning = j.contains("reason") && j["reason"].is_string()
                        ? j["reason"].get<std::string>()
                        : std::string(TrimAscii(std::string_view(text).substr(0, pos)));
        found = true;
      }
    }
    if (!found) {
      v.reason = "the judge gave no grade: " + TruncateUtf8(std::string(TrimAscii(text)), 300);
      return v;
    }
  }
  v.parsed = v.correct ? "C" : (v.score > 0 ? "P" : "I");
  v.reason = "judge: " + TruncateUtf8(reasoning.empty() ? "(no reasoning)" : reasoning, 2000);
  return v;
}

}  // namespace codesweep
