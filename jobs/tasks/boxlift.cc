// boxlift: lift weighted boxes with capacity-limited lifters in as few steps as possible.
// Generator, greedy step limit and checker follow CodeSteer's create_dataset_BoxLift.py and
// run_BoxLift_baseline_methods.py, except that invalid assignments and steps beyond the limit are
// explicit failures here (the original skipped or ignored them). See docs/tasks.md.
#include <algorithm>
#include <charconv>
#include <numeric>
#include <set>
#include <vector>

#include "jobs/tasks/common.h"
#include "jobs/tasks/factories.h"
#include "jobs/tasks/plan_common.h"

namespace codesweep {
namespace {

constexpr int kMaxBoxes = 200;
constexpr int kMaxLifters = 50;

struct Config {
  int boxes = 0;
  int lifters = 0;
};

struct Assignment {
  int64_t weight = 0;
  std::vector<int64_t> lifters;
};
using Step = std::vector<Assignment>;

Result<Config> ParseConfig(std::string_view c) {
  size_t us = c.find('_');
  Config cfg;
  auto num = [](std::string_view s, int* out) {
    auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
    return !s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size();
  };
  if (us == std::string_view::npos || !num(c.substr(0, us), &cfg.boxes) ||
      !num(c.substr(us + 1), &cfg.lifters) || cfg.boxes < 1 || cfg.boxes > kMaxBoxes ||
      cfg.lifters < 1 || cfg.lifters > kMaxLifters) {
    return Status::InvalidArgument(
        "boxlift complexity must be \"B_L\" with B in 1..200 boxes and "
        "L in 1..50 lifters, got \"" +
        Truncate(c, 40) + "\"");
  }
  return cfg;
}

// Weight and capacity ranges. The four released configs use the original table; other box counts
// extend its pattern with tier k = max(1, (B - 5) / 5): weights [10k, 100k], capacities
// [10(k+1), 40(k+1)] (k = 1 keeps the original [40, 80]).
void Ranges(int boxes, int* wlo, int* whi, int* clo, int* chi) {
  int k = std::max(1, (boxes - 5) / 5);
  *wlo = 10 * k;
  *whi = 100 * k;
  *clo = k == 1 ? 40 : 10 * (k + 1);
  *chi = 40 * (k + 1);
}

// The original estimate_steps(): each step takes the remaining boxes heaviest first and, for each
// box the still-free lifters can carry together, uses free lifters in list order until their sum
// covers it. Returns the plan (original lifter indices); its size is the step limit.
std::vector<Step> GreedyPlan(const std::vector<int64_t>& boxes,
                             const std::vector<int64_t>& lifters) {
  std::vector<int64_t> remaining = boxes;
  std::sort(remaining.begin(), remaining.end(), std::greater<>());
  std::vector<Step> plan;
  while (!remaining.empty()) {
    std::vector<int64_t> free(lifters.size());
    std::iota(free.begin(), free.end(), 0);
    Step step;
    size_t i = 0;
    while (i < remaining.size() && !free.empty()) {
      int64_t total = 0;
      for (int64_t f : free) total += lifters[f];
      if (total < remaining[i]) {
        ++i;
        continue;
      }
      Assignment a{remaining[i], {}};
      int64_t sum = 0;
      size_t used = 0;
      while (sum < remaining[i]) {
        sum += lifters[free[used]];
        a.lifters.push_back(free[used++]);
      }
      free.erase(free.begin(), free.begin() + used);
      remaining.erase(remaining.begin() + i);
      step.push_back(std::move(a));
    }
    if (step.empty()) break;  // a box no lifter set can carry; the generator never makes one
    plan.push_back(std::move(step));
  }
  return plan;
}

template <typename T>
std::string PyList(const std::vector<T>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
  return out + "]";
}

std::string RenderPlan(const std::vector<Step>& plan) {
  std::string out;
  for (size_t s = 0; s < plan.size(); ++s) {
    out += (s ? "\n" : "") + std::string("Step ") + std::to_string(s + 1) + ": [";
    for (size_t i = 0; i < plan[s].size(); ++i) {
      out += (i ? ", (" : "(") + std::to_string(plan[s][i].weight) + ", " +
             PyList(plan[s][i].lifters) + ")";
    }
    out += "]";
  }
  return out;
}

// Parses one step body "[(w, [i, ...]), ...]" (after "Step k:"); nullopt on a syntax error.
std::optional<Step> ParseStep(PlanScanner& sc) {
  Step step;
  if (!sc.Eat('[')) return std::nullopt;
  if (sc.Eat(']')) return step;
  do {
    if (sc.Peek() == ']' || (sc.SkipSpace(), sc.Peek() == ']')) break;  // trailing comma
    Assignment a;
    auto w = (sc.Eat('(') ? sc.Int() : std::nullopt);
    if (!w || !sc.Eat(',') || !sc.Eat('[')) return std::nullopt;
    a.weight = *w;
    if (!sc.Eat(']')) {
      do {
        auto id = sc.Int();
        if (!id) return std::nullopt;
        a.lifters.push_back(*id);
      } while (sc.Eat(','));
      if (!sc.Eat(']')) return std::nullopt;
    }
    if (!sc.Eat(')')) return std::nullopt;
    step.push_back(std::move(a));
  } while (sc.Eat(','));
  if (!sc.Eat(']')) return std::nullopt;
  return step;
}

struct ParsedPlan {
  std::vector<Step> steps;
  std::string error;  // set when step steps.size() + 1 could not be parsed
};

// Splits the answer at each "Step" and parses "Step k: [...]" bodies in order of appearance.
ParsedPlan ParsePlan(std::string_view text) {
  ParsedPlan out;
  size_t at = text.find("Step");
  while (at != std::string_view::npos) {
    size_t next = text.find("Step", at + 4);
    std::string_view chunk =
        text.substr(at + 4, next == std::string_view::npos ? next : next - at - 4);
    PlanScanner sc(chunk);
    (void)sc.Int();
    std::optional<Step> step = sc.Eat(':') ? ParseStep(sc) : std::nullopt;
    if (step) sc.SkipSpace();
    if (!step || !sc.AtEnd()) {
      out.error = "step " + std::to_string(out.steps.size() + 1) + ": cannot parse \"" +
                  Truncate(TrimAscii(chunk), 60) + "\"";
      return out;
    }
    out.steps.push_back(std::move(*step));
    at = next;
  }
  return out;
}

// Why `a` cannot be executed now, or "" if it can.
std::string CheckAssignment(const Assignment& a, const std::vector<int64_t>& lifters,
                            const std::multiset<int64_t>& remaining, std::set<int64_t>& used) {
  if (!remaining.count(a.weight)) {
    return "no remaining box weighs " + std::to_string(a.weight);
  }
  int64_t sum = 0;
  std::set<int64_t> here;
  for (int64_t id : a.lifters) {
    if (id < 0 || id >= static_cast<int64_t>(lifters.size())) {
      return "lifter index " + std::to_string(id) + " out of range";
    }
    if (used.count(id) || !here.insert(id).second) {
      return "lifter " + std::to_string(id) + " used twice in one step";
    }
    sum += lifters[id];
  }
  if (sum < a.weight) {
    return "lifters " + PyList(a.lifters) + " (capacity " + std::to_string(sum) + ") cannot lift " +
           std::to_string(a.weight);
  }
  used.insert(here.begin(), here.end());
  return "";
}

class BoxLiftTask final : public Task {
 public:
  std::string_view name() const override { return "boxlift"; }
  std::string_view description() const override {
    return "Assign capacity-limited lifters to lift all boxes within a step limit (greedy "
           "estimate); partial score = lifted weight fraction. Complexity \"boxes_lifters\".";
  }
  std::vector<std::string> complexity_levels() const override {
    return {"10_3", "15_4", "20_5", "25_6", "30_7", "50_10"};
  }
  Status ValidateComplexity(std::string_view c) const override { return ParseConfig(c).status(); }
  int64_t InstanceCount(std::string_view) const override { return -1; }
  bool has_partial_score() const override { return true; }

  Result<Instance> Generate(std::string_view complexity, int64_t sample,
                            uint64_t seed) const override {
    CS_ASSIGN_OR_RETURN(Config cfg, ParseConfig(complexity));
    Rng rng = PlanRng(name(), complexity, sample, seed);
    int wlo, whi, clo, chi;
    Ranges(cfg.boxes, &wlo, &whi, &clo, &chi);
    std::vector<int64_t> boxes(cfg.boxes), lifters(cfg.lifters);
    for (auto& l : lifters) l = rng.Uniform(clo, chi);
    // Every box must be liftable by all lifters together: weights are capped at the total.
    int64_t total = std::accumulate(lifters.begin(), lifters.end(), int64_t{0});
    for (auto& b : boxes)
      b = rng.Uniform(std::min<int64_t>(wlo, total), std::min<int64_t>(whi, total));
    std::vector<Step> plan = GreedyPlan(boxes, lifters);
    Instance inst;
    inst.task = name();
    inst.complexity = std::string(complexity);
    inst.sample = sample;
    inst.seed = seed;
    inst.data = {{"boxes", boxes}, {"lifters", lifters}, {"step_limit", plan.size()}};
    inst.prompt = Prompt(boxes, lifters, plan.size());
    inst.canonical_answer = RenderPlan(plan);
    inst.truth = "all " + std::to_string(boxes.size()) +
                 " boxes lifted in <= " + std::to_string(plan.size()) + " steps, e.g.\n" +
                 inst.canonical_answer;
    return inst;
  }

  Verdict Check(const Instance& inst, std::string_view answer) const override {
    Verdict v;
    std::vector<int64_t> boxes, lifters;
    size_t limit = 0;
    if (!ReadData(inst, &boxes, &lifters, &limit)) {
      v.reason = "instance data is malformed";
      return v;
    }
    std::optional<std::string> text = LastTripleAngle(answer);
    v.source = text ? AnswerSource::kTags : AnswerSource::kFallback;
    if (!text) text = std::string(answer);
    if (text->size() > kMaxPlanAnswerBytes) {
      v.reason = "answer longer than 1 MiB";
      return v;
    }
    ParsedPlan plan = ParsePlan(*text);
    if (plan.steps.empty() && plan.error.empty()) {
      if (v.source == AnswerSource::kFallback) v.source = AnswerSource::kNone;
      v.reason = "no \"Step k: [...]\" lines found";
      return v;
    }
    v.parsed = Truncate(RenderPlan(plan.steps));
    Simulate(boxes, lifters, limit, plan, &v);
    return v;
  }

  std::string ReferenceSolution(const Instance& inst) const override;

 private:
  static bool ReadData(const Instance& inst, std::vector<int64_t>* boxes,
                       std::vector<int64_t>* lifters, size_t* limit) {
    const auto& d = inst.data;
    if (!d.is_object() || !d.contains("boxes") || !d.contains("lifters") ||
        !d.contains("step_limit") || !d["boxes"].is_array() || !d["lifters"].is_array() ||
        !d["step_limit"].is_number_unsigned()) {
      return false;
    }
    for (const auto& b : d["boxes"]) {
      if (!b.is_number_integer()) return false;
      boxes->push_back(b.get<int64_t>());
    }
    for (const auto& l : d["lifters"]) {
      if (!l.is_number_integer()) return false;
      lifters->push_back(l.get<int64_t>());
    }
    *limit = d["step_limit"].get<size_t>();
    return !boxes->empty();
  }

  // Executes the steps within the limit, assignment by assignment, stopping at the first invalid
  // one. Score = lifted weight / total weight at that point.
  static void Simulate(const std::vector<int64_t>& boxes, const std::vector<int64_t>& lifters,
                       size_t limit, const ParsedPlan& plan, Verdict* v) {
    std::multiset<int64_t> remaining(boxes.begin(), boxes.end());
    const int64_t total = std::accumulate(boxes.begin(), boxes.end(), int64_t{0});
    int64_t lifted = 0;
    std::string failure;
    for (size_t s = 0; s < plan.steps.size() && s < limit && failure.empty(); ++s) {
      std::set<int64_t> used;
      for (size_t i = 0; i < plan.steps[s].size(); ++i) {
        const Assignment& a = plan.steps[s][i];
        std::string why = CheckAssignment(a, lifters, remaining, used);
        if (!why.empty()) {
          failure = "step " + std::to_string(s + 1) + ", assignment " + std::to_string(i + 1) +
                    ": " + why;
          break;
        }
        remaining.erase(remaining.find(a.weight));
        lifted += a.weight;
      }
    }
    if (failure.empty() && plan.steps.size() > limit) {
      failure = "plan has " + std::to_string(plan.steps.size()) + " steps, limit is " +
                std::to_string(limit);
    }
    if (failure.empty() && !plan.error.empty()) failure = plan.error;
    if (failure.empty() && !remaining.empty()) {
      failure = std::to_string(remaining.size()) + " of " + std::to_string(boxes.size()) +
                " boxes not lifted";
    }
    v->score = total > 0 ? static_cast<double>(lifted) / static_cast<double>(total) : 0.0;
    v->correct = failure.empty();
    v->reason = failure.empty() ? "ok" : failure;
  }

  static std::string Prompt(const std::vector<int64_t>& boxes, const std::vector<int64_t>& lifters,
                            size_t limit) {
    return "Task: BoxLift\n\nYou are given a list of boxes with the following weights: " +
           PyList(boxes) +
           "\nAnd a list of lifters with the following maximum lifting "
           "capacities: " +
           PyList(lifters) +
           "\n\nYour task is to assign the lifters to lift all the boxes in multiple steps, "
           "following these rules:\n"
           "1. Multiple boxes can be lifted in each step.\n"
           "2. Each lifter can only lift one box at a time.\n"
           "3. Each lifting agent can be used only once in each step.\n"
           "4. Multiple lifters can combine together to lift one box if the box is too heavy for "
           "a single lifter.\n"
           "5. Try to lift all the boxes using the minimum number of steps possible.\n"
           "6. You need to lift all the boxes in less than or equal to " +
           std::to_string(limit) +
           " steps.\n\nPlease provide your solution in the following format:\n"
           "Step 1: [(Box weight, [Lifter indices]), (Box weight, [Lifter indices]), ...]\n"
           "Step 2: [(Box weight, [Lifter indices]), (Box weight, [Lifter indices]), ...]\n...\n\n"
           "For example:\nStep 1: [(50, [0, 2]), (30, [1]), (20, [3])]\n"
           "This means in Step 1, lifters 0 and 2 are lifting a box weighing 50, lifter 1 is "
           "lifting a box weighing 30, and lifter 3 is lifting a box weighing 20. Lifter indices "
           "are 0-based.\n\nSurround the answer with <<<content>>>.\n\n"
           "For example, <<<Step 1: [(50, [0, 2]), (30, [1]), (20, [3])]\nStep 2: [(40, [0, 1]), "
           "(20, [2]), (20, [3])]\nStep 3:...>>>\n\n"
           "Ensure all boxes are lifted and provide the most efficient solution possible.\n";
  }
};

constexpr std::string_view kReferenceProgram = R"PY(import sys


def plan_steps(boxes, lifters):
    """Greedy plan: each step, heaviest box first; free lifters in index order until the sum
    covers the weight; a box the free lifters cannot carry together waits for the next step."""
    remaining = sorted(boxes, reverse=True)
    steps = []
    while remaining:
        free = list(range(len(lifters)))
        step = []
        i = 0
        while i < len(remaining) and free:
            w = remaining[i]
            if sum(lifters[j] for j in free) < w:
                i += 1
                continue
            used, total = [], 0
            while total < w:
                used.append(free[len(used)])
                total += lifters[used[-1]]
            free = free[len(used):]
            step.append((w, used))
            remaining.pop(i)
        if not step:
            sys.exit("a box is heavier than all lifters together")
        steps.append(step)
    return steps


def improve(boxes, lifters, steps, limit):
    """Try to pack the boxes into fewer steps by first-fit over a capacity-sorted lifter order;
    keep whichever plan is shorter (never longer than the greedy)."""
    order = sorted(range(len(lifters)), key=lambda j: -lifters[j])
    remaining = sorted(boxes, reverse=True)
    alt = []
    while remaining:
        free = list(order)
        step, i = [], 0
        while i < len(remaining) and free:
            w = remaining[i]
            single = [j for j in free if lifters[j] >= w]
            if single:
                j = min(single, key=lambda k: lifters[k])
                used = [j]
            elif sum(lifters[j] for j in free) >= w:
                used, total = [], 0
                for j in free:
                    used.append(j)
                    total += lifters[j]
                    if total >= w:
                        break
            else:
                i += 1
                continue
            for j in used:
                free.remove(j)
            step.append((w, sorted(used)))
            remaining.pop(i)
        if not step:
            return steps
        alt.append(step)
    return alt if len(alt) < len(steps) else steps


def solve(boxes, lifters, limit):
    steps = improve(boxes, lifters, plan_steps(boxes, lifters), limit)
    lines = []
    for k, step in enumerate(steps, 1):
        lines.append("Step %d: [%s]" % (k, ", ".join("(%d, %s)" % (w, ids) for w, ids in step)))
    print("<<<" + "\n".join(lines) + ">>>")


)PY";

std::string BoxLiftTask::ReferenceSolution(const Instance& inst) const {
  std::vector<int64_t> boxes, lifters;
  size_t limit = 0;
  if (!ReadData(inst, &boxes, &lifters, &limit)) return "print('malformed instance')\n";
  return std::string(kReferenceProgram) + "BOXES = " + PyList(boxes) +
         "\nLIFTERS = " + PyList(lifters) + "\nSTEP_LIMIT = " + std::to_string(limit) +
         "\nsolve(BOXES, LIFTERS, STEP_LIMIT)\n";
}

}  // namespace

std::unique_ptr<Task> MakeBoxLiftTask() { return std::make_unique<BoxLiftTask>(); }

}  // namespace codesweep
