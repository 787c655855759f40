// Methods 7-8 (code_interpreter, code_interpreter_plus): a tool loop with one function tool,
// `python`, executed in our sandbox, so it works with every provider that has tool calling (the
// paper could only use OpenAI's hosted tool). Invalid arguments come back as tool errors; the
// number of executed tool calls is capped, and once the cap is hit every further tool call is
// answered with an error asking for the final answer; the loop ends after kMaxCalls calls.
#include <nlohmann/json.hpp>

#include "jobs/methods/cell_run.h"
#include "jobs/methods/extract.h"
#include "jobs/methods/prompts.h"

namespace codesweep {

namespace {

constexpr int kMaxToolCalls = 8;              // executions through the tool per cell
constexpr int kMaxCalls = kMaxToolCalls + 2;  // model calls per cell

ToolSpec PythonTool() {
  return ToolSpec{"python", std::string(prompts::kPythonToolDescription),
                  std::string(prompts::kPythonToolParameters)};
}

// The `code` argument of a python tool call, or an error text for the model.
Result<std::string> CodeArgument(const ToolCall& call) {
  if (call.name != "python") {
    return Status::InvalidArgument("Error: unknown tool '" + call.name +
                                   "'. The only tool is `python`.");
  }
  nlohmann::json args = nlohmann::json::parse(call.arguments_json, nullptr, false);
  if (args.is_discarded() || !args.is_object() || !args.contains("code") ||
      !args["code"].is_string()) {
    return Status::InvalidArgument(
        "Error: invalid arguments for `python`: expected a JSON object {\"code\": \"<program>\"}.");
  }
  return args["code"].get<std::string>();
}

struct ToolLoopState {
  int executed = 0;
  int invalid = 0;
  bool cap_hit = false;
  std::optional<std::string> last_output;
};

// The tool message answering one call (executing it when allowed).
Result<ChatMessage> AnswerToolCall(CellRun& run, const ToolCall& call, ToolLoopState& state) {
  ChatMessage m;
  m.role = "tool";
  m.tool_call_id = call.id;
  m.name = call.name;
  if (state.executed >= kMaxToolCalls) {
    state.cap_hit = true;
    m.content = "Error: the limit of " + std::to_string(kMaxToolCalls) +
                " tool calls is reached. Give your final answer now without calling tools.";
    return m;
  }
  Result<std::string> code = CodeArgument(call);
  if (!code.ok()) {
    ++state.invalid;
    m.content = code.status().message();
    return m;
  }
  ++state.executed;
  CS_ASSIGN_OR_RETURN(ExecResult exec, run.Execute(*code, 0));
  state.last_output = exec.stdout_text;
  m.content = DescribeExecution(exec, run.limits());
  return m;
}

}  // namespace

Result<FinalAnswer> RunToolLoop(CellRun& run, std::vector<ChatMessage> messages) {
  ToolLoopState state;
  FinalAnswer final;
  for (int call = 0; call < kMaxCalls; ++call) {
    LlmRequest request = run.NewRequest(messages);
    request.tools = {PythonTool()};
    CS_ASSIGN_OR_RETURN(LlmResponse reply, run.Call(request, 0));
    final.reply = reply.content;
    if (reply.tool_calls.empty()) break;
    if (call + 1 == kMaxCalls) {
      state.cap_hit = true;
      break;
    }
    messages.push_back(AssistantMessage(reply));
    for (const ToolCall& tc : reply.tool_calls) {
      CS_ASSIGN_OR_RETURN(ChatMessage answer, AnswerToolCall(run, tc, state));
      messages.push_back(std::move(answer));
    }
  }
  if (!ExtractCodeBlocks(final.reply).empty()) run.MarkCodeUsed();
  final.code_output = state.last_output;
  run.extra()["tool_calls"] = state.executed;
  run.extra()["invalid_tool_calls"] = state.invalid;
  run.extra()["tool_cap_hit"] = state.cap_hit;
  return final;
}

Result<FinalAnswer> RunCodeInterpreter(CellRun& run) {
  return RunToolLoop(run, {UserMessage(run.instance().prompt)});
}
Result<FinalAnswer> RunCodeInterpreterPlus(CellRun& run) {
  return RunToolLoop(run, {UserMessage(std::string(prompts::kCodeInterpreterPlus) + "\n\n" +
                                       run.instance().prompt)});
}

}  // namespace codesweep
