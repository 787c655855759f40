#include "jobs/methods/cell_run.h"

#include <algorithm>

#include "base/utf8.h"
#include "jobs/methods/extract.h"

namespace codesweep {

namespace {

constexpr size_t kFeedbackBytes = 4000;  // per stream, in what is fed back to the model

}  // namespace

std::string BoundedFeedback(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  if (s.size() <= kFeedbackBytes) return s;
  const size_t keep = Utf8CutPoint(s, kFeedbackBytes);
  return s.substr(0, keep) + "\n... [" + std::to_string(s.size() - keep) + " more bytes cut]";
}

LlmRequest CellRun::NewRequest(std::vector<ChatMessage> messages) const {
  LlmRequest r;
  r.messages = std::move(messages);
  r.gen = spec_.gen;
  r.draw = spec_.epoch;  // repeated cells: each epoch is its own draw, with its own call keys
  return r;
}

Result<LlmResponse> CellRun::Call(const LlmRequest& request, int turn) {
  CallRecord rec;
  rec.index = static_cast<int>(outcome_.calls.size());
  rec.turn = turn;
  rec.call_key = ComputeCallKey(spec_.model, request).value();
  rec.request_json = CanonicalRequestJson(request);
  NoteTurn(turn);
  Result<LlmResponse> r = client_.Complete(request);
  if (!r.ok()) {
    // The HTTP attempts a failed call made are recorded as they happened.
    const LlmCallStats stats = client_.last_call_stats();
    rec.error = r.status().message();
    rec.http_status = stats.http_status;
    rec.attempts = stats.attempts;
    rec.rate_limited = stats.rate_limited;
    rec.latency_ms = stats.latency_ms;
    outcome_.calls.push_back(std::move(rec));
    return r.status();
  }
  const LlmResponse& resp = *r;
  rec.response_json = ResponseToJson(resp);
  rec.tokens_in = resp.usage.input_tokens;
  rec.tokens_out = resp.usage.output_tokens;
  rec.tokens_estimated = resp.usage.estimated;
  rec.latency_ms = resp.latency_ms;
  rec.http_status = resp.http_status;
  rec.attempts = resp.attempts;
  rec.rate_limited = resp.rate_limited;
  rec.cost_usd = resp.cost_usd;
  rec.cached = resp.cached;
  rec.batch = resp.batch;
  rec.prompt_truncated = PromptLooksTruncated(request, resp.usage);
  outcome_.tokens_in += rec.tokens_in;
  outcome_.tokens_out += rec.tokens_out;
  outcome_.tokens_estimated = outcome_.tokens_estimated || rec.tokens_estimated;
  outcome_.cost_usd += rec.cost_usd;
  outcome_.calls.push_back(std::move(rec));
  return r;
}

Result<ExecResult> CellRun::Execute(const std::string& code, int turn) {
  MarkCodeUsed();
  Result<ExecResult> r = executor_.Run(ExecRequest{code, limits_});
  if (!r.ok()) return Status::Unavailable("sandbox: " + r.status().message());
  const ExecResult& e = *r;
  ExecutionRecord rec;
  static_cast<ExecReport&>(rec) = e;
  rec.index = static_cast<int>(outcome_.executions.size());
  rec.turn = turn;
  rec.code = code;
  rec.status = std::string(ExecStatusName(e.status));
  outcome_.executions.push_back(std::move(rec));
  if (e.status == ExecStatus::kOk) outcome_.code_ok = true;
  return r;
}

void CellRun::Finish() {
  outcome_.extra_json = extra_.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::optional<ExecResult>> ExecuteFirstBlock(CellRun& run, const std::string& reply,
                                                    int turn) {
  std::vector<std::string> blocks = ExtractCodeBlocks(reply);
  if (blocks.empty()) return std::optional<ExecResult>();
  Result<ExecResult> e = run.Execute(blocks[0], turn);
  if (!e.ok()) return e.status();
  return std::optional<ExecResult>(std::move(e).value());
}

std::string DescribeExecution(const ExecResult& result, const ExecLimits& limits) {
  std::string out = "output: " + BoundedFeedback(result.stdout_text) +
                    "\nerrors: " + BoundedFeedback(result.stderr_text) + "\n";
  switch (result.status) {
    case ExecStatus::kTimeout:
      out += "TimeoutExpired: the code did not finish within " +
             (limits.wall_ms % 1000 == 0 ? std::to_string(limits.wall_ms / 1000) + " seconds"
                                         : std::to_string(limits.wall_ms) + " ms") +
             ".\n";
      break;
    case ExecStatus::kMemory:
      out += "MemoryError: the code exceeded the memory limit.\n";
      break;
    case ExecStatus::kOutputLimit:
      out += "The code printed too much output and was stopped.\n";
      break;
    case ExecStatus::kKilled:
    case ExecStatus::kRefused:
      out += "The code was stopped by the sandbox (" + std::string(ExecStatusName(result.status)) +
             ").\n";
      break;
    case ExecStatus::kOk:
    case ExecStatus::kError:
      break;
  }
  return out;
}

ChatMessage UserMessage(std::string content) {
  ChatMessage m;
  m.role = "user";
  m.content = std::move(content);
  return m;
}

ChatMessage SystemMessage(std::string content) {
  ChatMessage m;
  m.role = "system";
  m.content = std::move(content);
  return m;
}

ChatMessage AssistantMessage(const LlmResponse& response) {
  ChatMessage m;
  m.role = "assistant";
  m.content = response.content;
  m.tool_calls = response.tool_calls;
  return m;
}

}  // namespace codesweep
