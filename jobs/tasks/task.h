// Task: one of the paper's 14 tasks. A task generates an instance from (complexity, sample, seed),
// renders its prompt, checks an answer deterministically, and gives a reference Python solution.
// Tasks are stateless after construction (datasets are loaded once, when the registry builds the
// task) and every method is safe to call from many threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace codesweep {

// A generated instance. `data` is the task's own description of the instance (numbers, grid,
// words...) and is everything Check() and ReferenceSolution() need.
struct Instance {
  std::string task;
  std::string complexity;
  int64_t sample = 0;
  uint64_t seed = 0;
  std::string prompt;  // the question as the model sees it, asking for <<<answer>>>
  std::string truth;   // human-readable ground truth (for display in `tasks show` and reports)
  // One canonical answer that Check() accepts, written as a model would put it inside <<< >>>,
  // or "" where the task cannot produce one cheaply in C++ (then only the reference code solves
  // it).
  std::string canonical_answer;
  nlohmann::json data;
};

// Where a checker read the answer it judged: the last <<<...>>> (kTags), the task's documented
// fallback for replies without one (kFallback), or nowhere (kNone: nothing answer-like found).
enum class AnswerSource { kNone, kTags, kFallback };
// "none", "tags", "fallback": the values of results.answer_source.
std::string_view AnswerSourceName(AnswerSource source);

struct Verdict {
  bool correct = false;
  double score = 0.0;  // partial score in [0, 1]; 1.0/0.0 for pass/fail tasks
  std::string parsed;  // what the checker understood the answer to be (truncated for display)
  std::string reason;  // why: "ok", "no <<<answer>>> found", "uses 8 twice", ...
  AnswerSource source = AnswerSource::kNone;
};

class Task {
 public:
  virtual ~Task() = default;
  virtual std::string_view name() const = 0;
  virtual std::string_view description() const = 0;
  // The complexity levels offered by default, in increasing difficulty. Empty where the task has
  // no knob (then "" is the only valid complexity).
  virtual std::vector<std::string> complexity_levels() const = 0;
  // OK if `complexity` is a level this task can generate (may accept more than the listed ones,
  // e.g. number_multiply accepts any "D_D_..._D").
  virtual Status ValidateComplexity(std::string_view complexity) const = 0;
  // Number of distinct instances at this level, or -1 when unbounded (synthesized tasks).
  // Dataset tasks wrap the sample index modulo this count.
  virtual int64_t InstanceCount(std::string_view complexity) const = 0;
  virtual bool has_partial_score() const { return false; }

  // Deterministic: the same arguments give the same instance on every machine.
  virtual Result<Instance> Generate(std::string_view complexity, int64_t sample,
                                    uint64_t seed) const = 0;
  // Judges one candidate answer (a whole model reply or a program's stdout). Reads the last
  // <<<...>>> with task-specific fallbacks. Never throws, never hangs, on any input.
  virtual Verdict Check(const Instance& instance, std::string_view answer) const = 0;
  // A complete Python 3 program that solves this instance generically (by search where needed)
  // and prints its answer as <<<...>>>. Uses only the standard library.
  virtual std::string ReferenceSolution(const Instance& instance) const = 0;
};

// The version of a task's questions. It is part of every cell key (coordinator/sweep/grid.cc) and
// is bumped whenever what a cell asks changes (the prompt, or which item a sample index maps
// to), so an existing database never mixes answers to old questions with new ones. 1 (the
// first version, left out of the key) for a task whose questions never changed, and for unknown
// names. docs/tasks.md lists why each version was bumped.
int TaskVersion(std::string_view task_name);

// The registry of the built-in tasks. Create() loads every task (and its dataset) at once;
// CreateLazy() loads none, and each task is built on its first Get/Find, once, so a process pays
// only for the tasks its sweep or its jobs name (game24 checks 12,744 puzzles when it loads). Owns
// the tasks. Get/Find/Contains/names/tasks are safe from many threads at once; Add is for setup.
class TaskRegistry {
 public:
  using Loader = std::function<Result<std::unique_ptr<Task>>()>;

  TaskRegistry();  // empty; tests Add() their own tasks
  ~TaskRegistry();
  // data_dir: the project's data/ folder. Fails if a dataset file is missing or malformed.
  static Result<std::unique_ptr<TaskRegistry>> Create(const std::string& data_dir);
  // Every built-in name registered, nothing loaded: a broken dataset is reported by the Get of
  // its task (the error names the file).
  static std::unique_ptr<TaskRegistry> CreateLazy(const std::string& data_dir);

  // The task, built on first use: NotFound for a name not registered, else the load's error.
  Result<const Task*> Get(std::string_view name) const;
  const Task* Find(std::string_view name) const;  // nullptr if unknown or its load failed
  bool Contains(std::string_view name) const;     // a registered name; loads nothing
  std::vector<std::string> names() const;         // every registered name, in listing order
  // Every task, loading those not loaded yet; the first load error fails it.
  Result<std::vector<const Task*>> LoadAll() const;
  // The tasks loaded so far, in listing order: all of them after Create() or LoadAll().
  std::vector<const Task*> tasks() const;
  int loaded_count() const;  // tasks built so far (tests)

  // Registration: a built task (tests), or one built on first use.
  void Add(std::unique_ptr<Task> task);
  void AddLazy(std::string name, Loader loader);

 private:
  struct Entry;
  const Entry* FindEntry(std::string_view name) const;
  static Result<const Task*> Load(const Entry& e);
  std::vector<std::unique_ptr<Entry>> entries_;
};

// Finds the data/ directory: $CODESWEEP_DATA_DIR if set (read once in main and passed down),
// else the source tree's data/ recorded at build time.
std::string DefaultDataDir();

}  // namespace codesweep
