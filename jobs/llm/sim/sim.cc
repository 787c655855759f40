#include "jobs/llm/sim/sim.h"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <thread>

#include "base/hash.h"
#include "jobs/llm/sim/sim_answers.h"

namespace codesweep {

namespace {

using nlohmann::json;

Status ReadProbability(const json& v, const std::string& key, double* out) {
  if (!v.is_number()) return Status::InvalidArgument("sim option " + key + " must be a number");
  double d = v.get<double>();
  if (!(d >= 0.0 && d <= 1.0)) {
    return Status::InvalidArgument("sim option " + key + " must be in [0, 1]");
  }
  *out = d;
  return Status::OK();
}

Status ReadMillis(const json& v, const std::string& key, int64_t* out) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 3'600'000) {
    return Status::InvalidArgument("sim option " + key +
                                   " must be an integer number of ms in [0, 3600000]");
  }
  *out = v.get<int64_t>();
  return Status::OK();
}

// The seed of one reply: the call key (provider, model, output options, canonical request, draw).
uint64_t RequestSeed(const ModelSpec& model, const LlmRequest& request) {
  return Sha256U64(ComputeCallKey(model, request).value());
}

int64_t EstimateTokens(size_t chars) { return static_cast<int64_t>((chars + 3) / 4); }

LlmUsage EstimateUsage(const LlmRequest& request, const LlmResponse& response) {
  size_t in = 0;
  for (const ChatMessage& m : request.messages) {
    in += m.content.size() + 4;
    for (const ToolCall& c : m.tool_calls) in += c.arguments_json.size();
  }
  for (const ToolSpec& t : request.tools) in += t.description.size() + t.parameters_json.size();
  size_t out = response.content.size();
  for (const ToolCall& c : response.tool_calls) out += c.arguments_json.size() + c.name.size();
  LlmUsage u;
  u.input_tokens = EstimateTokens(in);
  u.output_tokens = std::max<int64_t>(1, EstimateTokens(out));
  u.estimated = true;
  return u;
}

// One reply in the making: the draws come from one Rng in a fixed order.
class Responder {
 public:
  Responder(const SimOptions& options, const SimContext& context, uint64_t seed)
      : options_(options), task_(*context.task), instance_(*context.instance), rng_(seed) {
    p_ = SimCorrectProbability(options, context);
  }

  LlmResponse Respond(const LlmRequest& request) {
    if (std::optional<LlmResponse> graded = Judge(request)) return *graded;
    switch (sim::DetectPhase(request, instance_.prompt)) {
      case sim::Phase::kToolStart:
        return ToolStart(request);
      case sim::Phase::kToolFinal:
        return ToolFinal(request);
      case sim::Phase::kSelfEstimate:
        return SelfEstimate();
      case sim::Phase::kRefine:
        return Refine(request);
      case sim::Phase::kSummarize:
        return Reply(Answer(sim::Mode::kChoose));
      case sim::Phase::kAnswer:
        break;
    }
    return Reply(Answer(sim::DetectMode(request, instance_.prompt)));
  }

 private:
  struct Decision {
    bool correct = false;
    bool code = false;
  };

  Decision Decide(sim::Mode mode) {
    Decision d;
    d.correct = rng_.Bernoulli(p_);
    double u = rng_.Unit();
    d.code = mode == sim::Mode::kCode || (mode == sim::Mode::kChoose && u < options_.p_code);
    if (instance_.canonical_answer.empty()) d.code = true;  // text cannot be right: use code
    return d;
  }

  std::string Code(const Decision& d) {
    return d.correct ? task_.ReferenceSolution(instance_)
                     : sim::WrongCode(task_, instance_, options_.p_hang, rng_);
  }

  std::string Text(const Decision& d) {
    if (d.correct) return sim::TextReply(instance_.canonical_answer);
    std::string wrong = sim::WrongAnswer(task_, instance_);
    return sim::TextReply(wrong.empty() ? "unknown" : wrong);
  }

  std::string Answer(sim::Mode mode) {
    Decision d = Decide(mode);
    return d.code ? sim::CodeReply(Code(d)) : Text(d);
  }

  static LlmResponse Reply(std::string content) {
    LlmResponse r;
    r.content = std::move(content);
    r.finish_reason = "stop";
    return r;
  }

  LlmResponse ToolStart(const LlmRequest& request) {
    Decision d = Decide(sim::DetectMode(request, instance_.prompt));
    if (!d.code) return Reply(Text(d));
    LlmResponse r;
    r.content = "I will compute the answer with the python tool.";
    ToolCall call;
    call.id = "call_" + Sha256Hex(std::to_string(rng_.Next())).substr(0, 12);
    call.name = "python";
    call.arguments_json =
        json{{"code", Code(d)}}.dump(-1, ' ', false, json::error_handler_t::replace);
    r.tool_calls.push_back(std::move(call));
    r.finish_reason = "tool_calls";
    return r;
  }

  LlmResponse ToolFinal(const LlmRequest& request) {
    for (auto it = request.messages.rbegin(); it != request.messages.rend(); ++it) {
      if (it->role != "tool") continue;
      if (auto a = sim::LastAnswerIn(it->content)) {
        return Reply("The program ran and its output gives the answer.\n<<<" + *a + ">>>");
      }
      break;
    }
    Decision d = Decide(sim::Mode::kText);
    if (instance_.canonical_answer.empty()) {
      return Reply("The program did not produce an answer, and I cannot determine it otherwise.");
    }
    return Reply("The program did not produce an answer, so I reason it out instead.\n" + Text(d));
  }

  // A judge prompt of a declared task (one asking for "GRADE: C" or "GRADE: I"): the sim grades
  // C when the text after the last "Submitted answer:" is the instance's canonical answer
  // (trimmed, case-insensitive), I otherwise. nullopt for any other prompt.
  std::optional<LlmResponse> Judge(const LlmRequest& request) {
    if (request.messages.empty()) return std::nullopt;
    const std::string& text = request.messages.back().content;
    if (text.find("GRADE: C") == std::string::npos || text.find("GRADE: I") == std::string::npos) {
      return std::nullopt;
    }
    auto lower_trim = [](std::string_view s) {
      size_t b = s.find_first_not_of(" \t\r\n");
      size_t e = s.find_last_not_of(" \t\r\n");
      std::string out(b == std::string_view::npos ? "" : s.substr(b, e - b + 1));
      for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return out;
    };
    size_t at = text.rfind("Submitted answer:");
    std::string submitted;
    if (at != std::string::npos) {
      std::string_view rest = std::string_view(text).substr(at + 17);
      submitted = lower_trim(rest.substr(0, rest.find("\n\n", 1)));
    }
    bool same = !submitted.empty() && submitted == lower_trim(instance_.canonical_answer);
    return Reply(same ? "The submitted answer matches the reference.\nGRADE: C"
                      : "The submitted answer does not match the reference.\nGRADE: I");
  }

  LlmResponse SelfEstimate() {
    bool prefer_code = instance_.canonical_answer.empty() || rng_.Bernoulli(options_.p_code);
    int64_t high = rng_.Uniform(6, 10);
    int64_t low = rng_.Uniform(1, high - 1);
    int64_t code = prefer_code ? high : low;
    int64_t text = prefer_code ? low : high;
    return Reply("Code score: " + std::to_string(code) + "\nText score: " + std::to_string(text));
  }

  LlmResponse Refine(const LlmRequest& request) {
    const ChatMessage* last_assistant = nullptr;
    for (const ChatMessage& m : request.messages) {
      if (m.role == "assistant") last_assistant = &m;
    }
    if (rng_.Bernoulli(options_.p_terminate)) {
      auto a = sim::LastAnswerIn(request.messages.back().content);
      if (!a && last_assistant) a = sim::LastAnswerIn(last_assistant->content);
      if (!a) return Reply("The previous answer stands.\nTERMINATE");
      return Reply("The results confirm the answer.\n<<<" + *a + ">>>\nTERMINATE");
    }
    bool had_code = last_assistant && last_assistant->content.find("```") != std::string::npos;
    return Reply(Answer(had_code ? sim::Mode::kCode : sim::Mode::kText));
  }

  const SimOptions& options_;
  const Task& task_;
  const Instance& instance_;
  Rng rng_;
  double p_ = 0.0;
};

class SimClient final : public LlmClient {
 public:
  SimClient(ModelSpec model, SimOptions options, SimContext context)
      : model_(std::move(model)), options_(options), context_(std::move(context)) {}

  Result<LlmResponse> Complete(const LlmRequest& request) override {
    LlmResponse r = SimRespond(options_, context_, model_, request);
    int64_t delay = options_.latency_ms;
    if (options_.latency_jitter_ms > 0) {
      Rng rng(RequestSeed(model_, request) ^ 0x9e3779b97f4a7c15ULL);
      delay += rng.Uniform(-options_.latency_jitter_ms, options_.latency_jitter_ms);
    }
    delay = std::max<int64_t>(0, delay);
    if (delay > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    r.latency_ms = delay;
    return r;
  }

  LlmCapabilities capabilities() const override { return LlmCapabilities{}; }

 private:
  ModelSpec model_;
  SimOptions options_;
  SimContext context_;
};

}  // namespace

Result<SimOptions> SimOptions::FromJson(const std::string& text) {
  json j = json::parse(text.empty() ? std::string("{}") : text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("sim options must be a JSON object");
  }
  SimOptions o;
  for (const auto& [key, v] : j.items()) {
    Status s;
    if (key == "p_correct")
      s = ReadProbability(v, key, &o.p_correct);
    else if (key == "p_correct_decay")
      s = ReadProbability(v, key, &o.p_correct_decay);
    else if (key == "p_code")
      s = ReadProbability(v, key, &o.p_code);
    else if (key == "p_hang")
      s = ReadProbability(v, key, &o.p_hang);
    else if (key == "p_terminate")
      s = ReadProbability(v, key, &o.p_terminate);
    else if (key == "latency_ms")
      s = ReadMillis(v, key, &o.latency_ms);
    else if (key == "latency_jitter_ms")
      s = ReadMillis(v, key, &o.latency_jitter_ms);
    else {
      s = Status::InvalidArgument(
          "unknown sim option '" + key +
          "' (known: p_correct, p_correct_decay, p_code, p_hang, p_terminate, latency_ms, "
          "latency_jitter_ms)");
    }
    if (!s.ok()) return s;
  }
  return o;
}

double SimCorrectProbability(const SimOptions& options, const SimContext& context) {
  int64_t index = 0;
  if (context.task && context.instance) {
    std::vector<std::string> levels = context.task->complexity_levels();
    auto it = std::find(levels.begin(), levels.end(), context.instance->complexity);
    if (it != levels.end()) index = it - levels.begin();
  }
  return std::max(0.05, options.p_correct - options.p_correct_decay * static_cast<double>(index));
}

LlmResponse SimRespond(const SimOptions& options, const SimContext& context, const ModelSpec& model,
                       const LlmRequest& request) {
  LlmResponse r;
  if (context.task == nullptr || context.instance == nullptr) {
    r.content = "I cannot answer: the simulated model was given no task.";
    r.finish_reason = "stop";
  } else {
    r = Responder(options, context, RequestSeed(model, request)).Respond(request);
  }
  r.usage = EstimateUsage(request, r);
  return r;
}

std::unique_ptr<LlmClient> MakeSimClient(const ModelSpec& model, const SimOptions& options,
                                         SimContext context) {
  return std::make_unique<SimClient>(model, options, std::move(context));
}

}  // namespace codesweep
