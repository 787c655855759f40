// game24: combine every given number exactly once with + - * / and parentheses to make 24.
// Levels "2".."8" and "4_classic" come from data/game24/*.csv; every served puzzle is solvable
// (its listed solution is verified exactly at load, or a solution is found by search).
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "jobs/tasks/common.h"
#include "jobs/tasks/factories.h"
#include "jobs/tasks/rational_expr.h"

namespace codesweep {
namespace {

constexpr int64_t kTarget = 24;
constexpr int64_t kSolveBudget = 5000000;  // search nodes per puzzle at load

struct Puzzle {
  std::vector<int64_t> numbers;
  std::string solution;  // verified exact
};

// Checks `expression` ("lhs" or "lhs = ... = 24") against `numbers`; reason "ok" on success.
Verdict CheckEquation(std::string_view text, const std::vector<int64_t>& numbers) {
  Verdict v;
  std::string_view body = TrimAscii(text);
  for (std::string_view prefix : {"Answer:", "answer:", "ANSWER:"}) {
    if (body.substr(0, prefix.size()) == prefix) body = TrimAscii(body.substr(prefix.size()));
  }
  v.parsed = Truncate(body);
  std::vector<std::string_view> sides = SplitOn(body, '=');
  if (sides.size() > 1) {
    std::string_view rhs = TrimAscii(sides.back());
    ExprResult r = EvaluateExpression(rhs);
    if (!r.ok || !(r.value == Rational{kTarget, 1})) {
      v.reason = "right side of '=' is not 24";
      return v;
    }
  }
  ExprResult lhs = EvaluateExpression(sides.front());
  if (!lhs.ok) {
    v.reason = "cannot evaluate expression: " + lhs.error;
    return v;
  }
  std::vector<int64_t> used = lhs.literals;
  std::vector<int64_t> want = numbers;
  std::sort(used.begin(), used.end());
  std::sort(want.begin(), want.end());
  if (used != want) {
    std::string list;
    for (int64_t n : lhs.literals) list += (list.empty() ? "" : " ") + std::to_string(n);
    v.reason = "numbers used [" + Truncate(list, 80) + "] are not each given number exactly once";
    return v;
  }
  if (!(lhs.value == Rational{kTarget, 1})) {
    v.reason = "expression evaluates to " + lhs.value.ToString() + ", not 24";
    return v;
  }
  v.correct = true;
  v.score = 1.0;
  v.reason = "ok";
  return v;
}

// The text to judge: the last <<<...>>>, else the last line that contains '=' (documented).
std::optional<std::string> AnswerText(std::string_view reply, bool* fallback) {
  *fallback = false;
  if (auto inner = LastTripleAngle(reply)) return inner;
  std::vector<std::string_view> lines = SplitOn(reply, '\n');
  for (size_t i = lines.size(); i-- > 0;) {
    if (lines[i].find('=') != std::string_view::npos) {
      *fallback = true;
      return std::string(TrimAscii(lines[i]));
    }
  }
  return std::nullopt;
}

Result<std::vector<Puzzle>> LoadLevel(const std::string& path) {
  CS_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  std::vector<Puzzle> out;
  std::vector<std::string_view> lines = SplitOn(text, '\n');
  for (size_t i = 1; i < lines.size(); ++i) {  // line 0 is the header
    if (TrimAscii(lines[i]).empty()) continue;
    std::vector<std::string_view> cols = SplitOn(lines[i], ',');
    std::string where = path + ":" + std::to_string(i + 1);
    if (cols.size() != 3) return Status::Corruption(where + ": expected rank,numbers,solution");
    Puzzle p;
    for (std::string_view n : SplitOn(TrimAscii(cols[1]), ' ')) {
      auto v = ParseInt(n, 1, 1000000);
      if (!v) return Status::Corruption(where + ": bad number '" + std::string(n) + "'");
      p.numbers.push_back(*v);
    }
    std::string listed(TrimAscii(cols[2]));
    if (!listed.empty() && CheckEquation(listed, p.numbers).correct) {
      p.solution = listed;
    } else {
      // Missing or inexact listed solution: search; drop the puzzle if none is found.
      auto found = SolveArithmetic(p.numbers, Rational{kTarget, 1}, kSolveBudget);
      if (!found) continue;
      p.solution = *found;
    }
    out.push_back(std::move(p));
  }
  if (out.empty()) return Status::Corruption(path + ": no solvable puzzles");
  return out;
}

constexpr char kReference[] =
    R"PY(# Game of 24: search over binary expression trees with exact fractions.
# Pairs of values are combined with + - * / until one value is left; states (multisets of
# values) that failed once are remembered. Floats steer the search; every hit is re-checked
# exactly with Fraction, so inexact near-misses are never printed.
from fractions import Fraction
from itertools import combinations


def exact(e):
    if isinstance(e, int):
        return Fraction(e)
    op, l, r = e
    a, b = exact(l), exact(r)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return a / b


def show(e):
    if isinstance(e, int):
        return str(e)
    op, l, r = e
    return "(" + show(l) + op + show(r) + ")"


def solve(nums, target):
    failed = set()

    def hit(v, e):
        if abs(v - target) > 1e-9:
            return False
        try:
            return exact(e) == target
        except ZeroDivisionError:
            return False

    def search(items):
        n = len(items)
        if n == 1:
            return items[0][1] if hit(*items[0]) else None
        key = tuple(sorted(round(v, 9) for v, _ in items))
        if key in failed:
            return None
        for i, j in combinations(range(n), 2):
            (a, ea), (b, eb) = items[i], items[j]
            rest = [items[k] for k in range(n) if k != i and k != j]
            cands = [(a + b, ("+", ea, eb)), (a * b, ("*", ea, eb)),
                     (a - b, ("-", ea, eb)), (b - a, ("-", eb, ea))]
            if b != 0:
                cands.append((a / b, ("/", ea, eb)))
            if a != 0:
                cands.append((b / a, ("/", eb, ea)))
            if n == 2:
                for v, e in cands:
                    if hit(v, e):
                        return e
                continue
            for c in cands:
                rest.append(c)
                found = search(rest)
                rest.pop()
                if found is not None:
                    return found
        failed.add(key)
        return None

    e = search([(float(x), x) for x in nums])
    return None if e is None else show(e)


)PY";

class Game24Task : public Task {
 public:
  explicit Game24Task(std::map<std::string, std::vector<Puzzle>> levels)
      : levels_(std::move(levels)) {}

  std::string_view name() const override { return "game24"; }
  std::string_view description() const override {
    return "Use every given number once with + - * / to make 24 (levels: number of terms)";
  }
  std::vector<std::string> complexity_levels() const override {
    return {"2", "3", "4", "4_classic", "5", "6", "8"};
  }
  Status ValidateComplexity(std::string_view complexity) const override {
    if (levels_.count(std::string(complexity))) return Status::OK();
    return Status::InvalidArgument("game24 complexity must be one of 2 3 4 4_classic 5 6 8, got '" +
                                   Truncate(complexity, 40) + "'");
  }
  int64_t InstanceCount(std::string_view complexity) const override {
    auto it = levels_.find(std::string(complexity));
    return it == levels_.end() ? 0 : static_cast<int64_t>(it->second.size());
  }

  Result<Instance> Generate(std::string_view complexity, int64_t sample,
                            uint64_t seed) const override {
    CS_RETURN_IF_ERROR(ValidateComplexity(complexity));
    const std::vector<Puzzle>& rows = levels_.at(std::string(complexity));
    const Puzzle& p = rows[PermutedItem(name(), complexity, sample, seed, rows.size())];
    Instance inst;
    inst.task = std::string(name());
    inst.complexity = std::string(complexity);
    inst.sample = sample;
    inst.seed = seed;
    inst.prompt = Prompt(p.numbers);
    inst.truth = p.solution + " = 24";
    inst.canonical_answer = p.solution + " = 24";
    inst.data = {{"numbers", p.numbers}, {"target", kTarget}, {"solution", p.solution}};
    return inst;
  }

  Verdict Check(const Instance& instance, std::string_view answer) const override {
    std::vector<int64_t> numbers = instance.data.value("numbers", std::vector<int64_t>());
    bool fallback = false;
    std::optional<std::string> text = AnswerText(answer, &fallback);
    if (!text) return Verdict{false, 0.0, "", "no <<<answer>>> and no line with '='"};
    Verdict v = CheckEquation(*text, numbers);
    v.source = fallback ? AnswerSource::kFallback : AnswerSource::kTags;
    if (fallback && v.reason != "ok") v.reason += " (no <<<>>>; read the last line with '=')";
    return v;
  }

  std::string ReferenceSolution(const Instance& instance) const override {
    std::vector<int64_t> numbers = instance.data.value("numbers", std::vector<int64_t>());
    std::string list;
    for (int64_t n : numbers) list += (list.empty() ? "" : ", ") + std::to_string(n);
    return std::string(kReference) + "numbers = [" + list + "]\n" +
           "target = " + std::to_string(kTarget) + "\n" +
           "expr = solve(numbers, target)\n"
           "print(f\"<<<{expr} = {target}>>>\" if expr else \"<<<no solution>>>\")\n";
  }

 private:
  // The original's prompt (benchmark/run_game24_baseline_methods.py), byte for byte: its five
  // examples (two of them without "= 24", two run into the next "Input:"), the numbers each
  // followed by a space, and its answer-format line.
  static std::string Prompt(const std::vector<int64_t>& numbers) {
    std::string q =
        "Use numbers and basic arithmetic operations (+ - * /) to obtain 24. Each number should be "
        "used only once but each number has to be used in the equation. Input: 9 10 11 13, "
        "Answer: ((10-9)*(11+13)) = 24 Input: 4 10 10 11, Answer: ((4*11)-(10+10)) = 24 Input: 5 "
        "6 13 13, Answer: ((5-(13/13))*6)Input: 2 6 6 7, Answer: ((6+(6*7))/2) Input: 2 6 10 18, "
        "Answer: (2-(6-(10+18)))Input: ";
    for (int64_t n : numbers) q += std::to_string(n) + " ";
    return q + "Answer:\nOutput final answer with the format <<<answer>>>.";
  }

  std::map<std::string, std::vector<Puzzle>> levels_;
};

}  // namespace

Result<std::unique_ptr<Task>> MakeGame24Task(const std::string& data_dir) {
  std::map<std::string, std::vector<Puzzle>> levels;
  for (const char* level : {"2", "3", "4", "4_classic", "5", "6", "8"}) {
    CS_ASSIGN_OR_RETURN(levels[level],
                        LoadLevel(data_dir + "/game24/puzzles_" + std::string(level) + ".csv"));
  }
  return std::unique_ptr<Task>(std::make_unique<Game24Task>(std::move(levels)));
}

}  // namespace codesweep
