// Value types every process shares: what a job is (JobSpec) and what running it produced
// (Outcome, with its calls and executions in order). Plain structs, copied freely between threads
// and encoded on the wire by schema/codec. Secrets never appear here: models name the environment
// variable holding a key, never the key itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "schema/ids.h"

namespace codesweep {

// Generation settings that change a model's output (and so are part of the cell key).
struct GenSettings {
  double temperature = 0.0;
  double top_p = 1.0;
  int max_tokens = 2000;
  std::optional<int64_t> seed;    // provider-side sampling seed, where supported
  std::vector<std::string> stop;  // stop sequences
};

// A model as named in the sweep file, e.g. "sim:default", "openai:gpt-4o".
struct ModelSpec {
  std::string id;        // the full id as written: "openai:gpt-4o"
  std::string provider;  // "sim", "openai", "anthropic"
  std::string name;      // the part after the first ':'
  // Provider options as a JSON object: base_url, api_key_env, headers, sim knobs, prices, ...
  // Everything here except NonOutputOptionKeys() (jobs/llm/llm_client.h: base_url, timeouts,
  // retry, price, key_alias, ...) is part of the cell key and the call key.
  std::string options_json = "{}";
};

// One LLM call made while running a job, in order.
struct CallRecord {
  int index = 0;              // 0-based order within the job
  int turn = 0;               // which turn of the method made it
  std::string call_key;       // hex; empty for unmetered providers that skip the cache
  std::string request_json;   // the canonical request (no secrets)
  std::string response_json;  // the normalized response, or "" on error
  int64_t tokens_in = 0;
  int64_t tokens_out = 0;
  bool tokens_estimated = false;  // true where the provider reported none (e.g. sim)
  int64_t latency_ms = 0;
  int http_status = 0;   // 0 where no HTTP was involved
  int attempts = 1;      // HTTP attempts including retries
  int rate_limited = 0;  // 429s seen while making this call
  double cost_usd = 0.0;
  bool cached = false;  // answered from the call cache
  std::string error;    // empty on success
  // The provider reported fewer prompt tokens than the request can possibly hold: the server
  // silently cut the prompt (to its context length). See docs/llm.md.
  bool prompt_truncated = false;
  bool batch = false;  // answered by a provider batch (cost at batch prices)
};

// What the sandbox measured about one execution of model-written code. Defined once, here: the
// sandbox's ExecResult (jobs/sandbox/executor.h) is this plus its status as an enum, and an
// ExecutionRecord is this plus where in the job it ran.
struct ExecReport {
  int exit_code = 0;
  int signal = 0;  // the signal that ended the interpreter, 0 where it exited
  int64_t wall_ms = 0;
  int64_t cpu_ms = 0;
  int64_t peak_rss_kb = 0;
  std::string stdout_text;
  std::string stderr_text;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  std::string tier;  // sandbox isolation tier used ("A", "B", "C", "plain")
};

// One execution of model-written code, in order.
struct ExecutionRecord : ExecReport {
  int index = 0;
  int turn = 0;
  std::string code;
  std::string status;  // ok, error, timeout, memory, killed, output_limit, refused
};

// Everything a worker needs to run one cell.
struct JobSpec {
  JobId job;
  CellKey cell;
  std::string sweep;       // sweep name
  std::string task;        // e.g. "game24"
  std::string complexity;  // task-specific level, e.g. "4" or "1_2_4"; "" where none
  int64_t sample = 0;      // sample index within the cell's (task, complexity)
  uint64_t seed = 0;       // the sweep seed
  ModelSpec model;
  std::string method;  // e.g. "only_question"
  int turns = 1;       // turn cap for multi-turn methods
  GenSettings gen;
  std::string sandbox_json = "{}";  // sandbox limits overrides (JSON object), part of the cell key
  int epoch = 0;  // which draw of a repeated cell: its LLM requests use it as their draw index
  // Declared tasks (docs/tasks.md): the task's definition (JSON) and the one dataset row the job
  // asks about (JSON object), so a worker needs no dataset file. Empty for built-in tasks.
  std::string task_def;
  std::string task_row;
  // A declared method's definition (canonical JSON of jobs/methods/method_template.h); "" for a
  // built-in method. Its version hash is in the cell key.
  std::string method_json;
  // Batch mode: the code executions of the cell's earlier (parked) runs, in order. A re-run
  // whose i-th execution has the same code takes its result from here instead of running it,
  // so the trajectory stays the same. Not part of the cell key.
  std::vector<ExecutionRecord> replay_executions;
};

// What running a job produced. Either a verdict (failed == false) or an error.
struct Outcome {
  // Error side. `failed` means no verdict could be reached (provider refused, bad config, ...).
  bool failed = false;
  bool retryable = false;  // a transient failure: requeue if attempts remain
  std::string error;

  // Verdict side.
  std::string final_answer;  // the answer that was judged (the passing candidate if any)
  bool correct = false;
  double score = 0.0;          // partial score in [0, 1]; equals correct where none applies
  std::string passed_by;       // "code" (executed output passed), "reply" (raw reply), or ""
  std::string verdict_reason;  // why the checker decided as it did
  bool code_used = false;      // the model wrote code (or called the python tool)
  bool code_ok = false;        // some execution finished with status ok
  int turns_used = 0;
  int64_t tokens_in = 0;
  int64_t tokens_out = 0;
  bool tokens_estimated = false;
  double cost_usd = 0.0;
  int64_t wall_ms = 0;
  std::string extra_json = "{}";  // method-specific facts (self-estimate scores, ...)

  std::vector<CallRecord> calls;
  std::vector<ExecutionRecord> executions;
  // Where the judged answer came from: "tags" (<<<...>>>), "fallback" (the task's documented
  // fallback for a reply without <<<>>>), "none" (no answer found), "" (no verdict).
  std::string answer_source;
  // Batch mode: the run stopped at a call that waits in a provider batch (call key parked_on).
  // Not a failure and not a verdict: the job parks and runs again once the batch has ended.
  bool parked = false;
  std::string parked_on;
};

}  // namespace codesweep
