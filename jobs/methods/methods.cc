// The method table: names, descriptions, prompt versions and implementations.
#include <string>

#include "base/hash.h"
#include "jobs/methods/cell_run.h"
#include "jobs/methods/method.h"
#include "jobs/methods/prompts.h"

namespace codesweep {

Result<FinalAnswer> RunTurnLoopMethod(CellRun& run);
Result<FinalAnswer> RunCodeInterpreter(CellRun& run);
Result<FinalAnswer> RunCodeInterpreterPlus(CellRun& run);
Result<FinalAnswer> RunCodeTextSum(CellRun& run);
Result<FinalAnswer> RunSelfEstimate(CellRun& run);

namespace {

struct MethodDef {
  const char* name;
  bool multi_turn;
  bool needs_tools;
  const char* description;
  MethodFn fn;
  std::vector<std::string_view> prompts;  // every text the method may send
};

const std::vector<MethodDef>& Defs() {
  using namespace prompts;  // NOLINT
  static const std::vector<MethodDef> defs = {
      {"only_question",
       true,
       false,
       "the task prompt alone; the model chooses code or text",
       RunTurnLoopMethod,
       {kRefineWithCode, kRefineWithoutCode}},
      {"all_text",
       true,
       false,
       "instructs textual reasoning, no code",
       RunTurnLoopMethod,
       {kAllText, kRefineWithCode, kRefineWithoutCode}},
      {"all_code",
       true,
       false,
       "instructs one Python block whose output is the answer",
       RunTurnLoopMethod,
       {kAllCode, kRefineWithCode, kRefineWithoutCode}},
      {"all_code_cot",
       true,
       false,
       "plan step by step, then one Python block",
       RunTurnLoopMethod,
       {kAllCodeCot, kRefineWithCode, kRefineWithoutCode}},
      {"autogen_concat",
       true,
       false,
       "AutoGen's assistant instruction prepended to the question",
       RunTurnLoopMethod,
       {kAutoGen, kRefineWithCode, kRefineWithoutCode}},
      {"autogen_system",
       true,
       false,
       "AutoGen's assistant instruction as the system message",
       RunTurnLoopMethod,
       {kAutoGen, kRefineWithCode, kRefineWithoutCode}},
      {"code_interpreter",
       false,
       true,
       "tool loop with a sandboxed `python` function tool; the model decides when to use it",
       RunCodeInterpreter,
       {kPythonToolDescription, kPythonToolParameters}},
      {"code_interpreter_plus",
       false,
       true,
       "the code_interpreter tool loop with an explicit push to use code",
       RunCodeInterpreterPlus,
       {kCodeInterpreterPlus, kPythonToolDescription, kPythonToolParameters}},
      {"code_text_sum",
       false,
       false,
       "all_text and all_code_cot answers, executed, handed to a summarizer",
       RunCodeTextSum,
       {kAllText, kAllCodeCot, kSummarizer, kSummarizerClose}},
      {"self_estimate",
       false,
       false,
       "the model rates code vs. text (0-10), then answers in the higher-rated mode",
       RunSelfEstimate,
       {kSelfEstimate, kAllText, kAllCodeCot}},
  };
  return defs;
}

// "m1-" + 10 hex digits over the method's name, logic version and prompt texts.
std::string PromptVersion(const MethodDef& d) {
  std::string all = std::string(prompts::kLogicVersion) + '\0' + d.name;
  for (std::string_view p : d.prompts) {
    all += '\0';
    all += p;
  }
  return std::string(prompts::kLogicVersion) + "-" + Sha256Hex(all).substr(0, 10);
}

}  // namespace

const std::vector<MethodInfo>& AllMethods() {
  static const std::vector<MethodInfo> infos = [] {
    std::vector<MethodInfo> v;
    for (const MethodDef& d : Defs()) {
      const bool system = std::string_view(d.name) == "autogen_system";
      v.push_back(
          MethodInfo{d.name, PromptVersion(d), d.multi_turn, d.needs_tools, system, d.description});
    }
    return v;
  }();
  return infos;
}

const MethodInfo* FindMethod(std::string_view name) {
  for (const MethodInfo& m : AllMethods()) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

MethodFn FindMethodFn(std::string_view name) {
  for (const MethodDef& d : Defs()) {
    if (d.name == name) return d.fn;
  }
  return nullptr;
}

Status CheckMethodSupported(const MethodInfo& method, const LlmCapabilities& capabilities) {
  if (method.needs_tools && !capabilities.tools) {
    return Status::FailedPrecondition("method " + method.name +
                                      " needs a model with tool calling; this model has none");
  }
  if (method.needs_system && !capabilities.system_message) {
    return Status::FailedPrecondition("method " + method.name +
                                      " needs a model that accepts a system message; this model "
                                      "does not");
  }
  return Status::OK();
}

}  // namespace codesweep
