// Declared methods: a steering method written as prompt templates in a sweep file
// ([method_templates.NAME], docs/methods.md) instead of C++. A MethodTemplate is a value: the
// coordinator parses it from the sweep file, sends its canonical JSON in JobSpec::method_json,
// and the worker runs it through the same turn loop and tool loop as the built-in methods.
// Pure functions; safe from any thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "jobs/methods/method.h"

namespace codesweep {

// What happens to the code a model writes.
enum class CodeMode {
  kExecute,  // the first Python block of each reply runs in the sandbox (like all_code)
  kNever,    // nothing runs; the reply alone is judged (like all_text, but strictly)
  kTool,     // function calling with the sandboxed `python` tool (like code_interpreter)
};
std::string_view CodeModeName(CodeMode mode);
std::optional<CodeMode> ParseCodeMode(std::string_view name);

struct MethodTemplate {
  std::string name;                      // as named in `methods = [...]`
  std::string description;               // shown by `codesweep methods`; not part of any key
  std::string system;                    // system message; "" = none
  std::string prompt = "{task_prompt}";  // the first user message
  CodeMode code = CodeMode::kExecute;
  // The turn cap. nullopt: the sweep's `turns` list when the method has a feedback template,
  // else 1. A fixed value gives every cell of the method that cap.
  std::optional<int> turns;
  std::string feedback;               // the user message after a turn whose reply had code
  std::string feedback_without_code;  // after a turn without code; "" = `feedback`
};

inline constexpr int kMaxTemplateTurns = 16;            // the turn loop's cap
inline constexpr size_t kMaxTemplateBytes = 64 * 1024;  // per template text

// The placeholders each template may use (docs/methods.md lists their meaning).
const std::vector<std::string_view>& PromptPlaceholders();    // system and prompt
const std::vector<std::string_view>& FeedbackPlaceholders();  // feedback, feedback_without_code

// Checks one template text: `{name}` placeholders from `allowed`, `{{` and `}}` for literal
// braces. The error names the offending placeholder or brace (the caller adds file and key).
Status CheckTemplateText(std::string_view text, const std::vector<std::string_view>& allowed);
// Substitutes the placeholders of a text CheckTemplateText accepted; a name missing from
// `values` renders as "".
std::string RenderTemplate(std::string_view text, const std::map<std::string, std::string>& values);

// Everything about a template that is not its texts' syntax: name, turns, and which keys make
// sense with which code mode. The error starts with the key it is about ("turns: ...").
Status CheckMethodTemplate(const MethodTemplate& t);

// Canonical JSON (sorted keys, every field): what JobSpec::method_json carries.
std::string MethodTemplateJson(const MethodTemplate& t);
// Parses and checks (CheckMethodTemplate and every text) a MethodTemplateJson text.
Result<MethodTemplate> MethodTemplateFromJson(std::string_view json);
// "t1-" + 16 hex digits of SHA-256 over what changes the requests the method makes (texts, code
// mode, turns; not the name or description). Part of the cell key as the method's prompt
// version: editing a template gives new cells.
std::string MethodTemplateVersion(const MethodTemplate& t);
// Full SHA-256 over MethodTemplateJson: the identity of a stored definition.
std::string MethodTemplateHash(const MethodTemplate& t);

// The template as a MethodInfo (multi_turn when it has a feedback template and no fixed
// turns, needs_tools for code = "tool", needs_system when it has a system message).
MethodInfo MethodTemplateInfo(const MethodTemplate& t);

}  // namespace codesweep
