// Internal to the sim model: how it writes answers (text or Python, right or wrong) and how it
// reads a request (which kind of prompt it is). Pure functions of their arguments and the Rng
// they are handed; safe from any thread. Not part of the sim's public contract (sim.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/hash.h"
#include "jobs/llm/llm_client.h"
#include "jobs/tasks/task.h"

namespace codesweep::sim {

// What the request asks for, read from its text (cue phrases documented in docs/methods.md).
enum class Phase {
  kToolStart,     // tools offered, no tool result yet: decide whether to call `python`
  kToolFinal,     // tools offered, tool results present: give the final answer
  kSelfEstimate,  // "rate your confidence": reply with two scores
  kRefine,        // a multi-turn refinement prompt: TERMINATE or a new answer
  kSummarize,     // the Code + Text + Sum. summarizer
  kAnswer,        // a first answer to a question
};
enum class Mode { kText, kCode, kChoose };

// Cue phrases are looked for only in the instruction text, i.e. the system and user messages
// with the task's question cut out, so a question that happens to say "code" changes nothing.
Phase DetectPhase(const LlmRequest& request, std::string_view question);
// The mode the instruction asks for (text-only, code, or the model's choice).
Mode DetectMode(const LlmRequest& request, std::string_view question);

// A wrong answer that is well-formed for the task (checked against the task's own checker);
// "" if none could be made.
std::string WrongAnswer(const Task& task, const Instance& instance);

// Full replies.
std::string TextReply(const std::string& answer);
std::string CodeReply(const std::string& code);
// A deterministic wrong program: prints a wrong answer, raises, or (rarely, p_hang) never ends.
std::string WrongCode(const Task& task, const Instance& instance, double p_hang, Rng& rng);

// The text inside the last <<<...>>> of `s`, if any.
std::optional<std::string> LastAnswerIn(std::string_view s);
// A Python string literal for `s` (JSON escaping, which Python accepts).
std::string PyLiteral(const std::string& s);

}  // namespace codesweep::sim
