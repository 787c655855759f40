// The sim model: a deterministic simulated LLM for dry runs, demos, tests and benchmarks (clearly
// labelled "sim" everywhere). Its reply depends only on (options, task instance, method, request):
// randomness is seeded from the call key, so the same request gives the same reply on every
// machine. It reads the instance's canonical answer and reference solution only to decide what
// to emit: correct with probability p(complexity), by text or by code (the task's reference
// Python, or a wrong variant), as the method's prompt steers it. As the LLM judge of a declared
// task (a prompt asking for "GRADE: C" or "GRADE: I") it grades C exactly when the submitted
// answer is the instance's canonical one.
#pragma once

#include <memory>
#include <string>

#include "base/clock.h"
#include "jobs/llm/llm_client.h"
#include "jobs/tasks/task.h"

namespace codesweep {

struct SimOptions {
  double p_correct = 0.8;         // chance of a correct answer at the easiest level
  double p_correct_decay = 0.1;   // subtracted per complexity level index (floor 0.05)
  double p_code = 0.5;            // chance of answering with code when the method lets it choose
  int64_t latency_ms = 0;         // mean simulated latency (0 = none)
  int64_t latency_jitter_ms = 0;  // uniform +/- jitter
  double p_hang = 0.02;           // share of wrong code answers that loop until the timeout
  double p_terminate = 0.5;       // chance of replying TERMINATE to a refinement prompt
  // Parses {"p_correct":..,"p_correct_decay":..,"p_code":..,"latency_ms":..,
  // "latency_jitter_ms":..,"p_hang":..,"p_terminate":..}; unknown keys, wrong types and values
  // out of range (probabilities outside [0, 1], negative times) are errors.
  static Result<SimOptions> FromJson(const std::string& json);
};

struct SimContext {
  const Task* task = nullptr;
  const Instance* instance = nullptr;
  std::string method;
};

// The probability of a correct answer at this instance's complexity:
// max(0.05, p_correct - p_correct_decay * level index), the index taken from
// task->complexity_levels() (0 where the level is not listed).
double SimCorrectProbability(const SimOptions& options, const SimContext& context);

// Pure and instant: the reply the sim gives to `request` (usage estimated, labelled so).
LlmResponse SimRespond(const SimOptions& options, const SimContext& context, const ModelSpec& model,
                       const LlmRequest& request);

// A client that answers with SimRespond after the simulated latency (sleeping on `clock` time).
std::unique_ptr<LlmClient> MakeSimClient(const ModelSpec& model, const SimOptions& options,
                                         SimContext context);

}  // namespace codesweep
