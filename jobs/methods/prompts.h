// Every prompt the steering methods send, in one reviewed place (prompts.cc), with the PAPER.md
// §3.1 source of each. A method's prompt_version is a hash of the prompts it uses (see
// methods.cc), so editing any text here changes the cell keys of the methods that use it.
// Constants only; safe from any thread.
#pragma once

#include <string_view>

namespace codesweep::prompts {

// Bumped when a method's logic (not its text) changes in a way that changes its requests.
inline constexpr std::string_view kLogicVersion = "m1";

extern const std::string_view kAllText;              // text_output_prompt (paraphrase)
extern const std::string_view kAllCode;              // ours: All Code + CoT without the CoT part
extern const std::string_view kAllCodeCot;           // with_COT_code_output_prompt (paraphrase)
extern const std::string_view kAutoGen;              // AutoGen AssistantAgent system message
extern const std::string_view kRefineWithCode;       // multi_turn_planning_prompt_with_code
extern const std::string_view kRefineWithoutCode;    // multi_turn_planning_prompt_without_code
extern const std::string_view kSummarizer;           // combined_agent_prompt (paraphrase)
extern const std::string_view kSummarizerClose;      // its closing instruction
extern const std::string_view kCodeInterpreterPlus;  // ours (the paper's text is unknown)
extern const std::string_view kSelfEstimate;         // ours (the paper's text is unknown)
extern const std::string_view kPythonToolDescription;
extern const std::string_view kPythonToolParameters;  // JSON Schema of the tool's arguments

}  // namespace codesweep::prompts
