// blocksworld: rearrange lettered blocks between a fixed set of stacks (no table) to reach a goal.
// Complexity "B_S_G": B blocks, S stacks (S >= 3, so every goal is reachable), the goal uses
// stacks 1..G. Instances are never already solved. Moves are simulated exactly by the checker.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "base/hash.h"
#include "jobs/tasks/common.h"
#include "jobs/tasks/factories.h"

namespace codesweep {
namespace {

using Stacks = std::vector<std::string>;  // stack i: block letters bottom -> top

struct Level {
  int blocks = 0, stacks = 0, goal_stacks = 0;
};

Result<Level> ParseLevel(std::string_view c) {
  std::vector<std::string_view> parts = SplitOn(c, '_');
  auto bad = [&] {
    return Status::InvalidArgument(
        "blocksworld complexity must be B_S_G with 1<=B<=26 blocks, 3<=S<=12 stacks, 1<=G<=S "
        "goal stacks; got '" +
        Truncate(c, 40) + "'");
  };
  if (parts.size() != 3) return bad();
  auto b = ParseInt(parts[0], 1, 26), s = ParseInt(parts[1], 3, 12), g = ParseInt(parts[2], 1, 12);
  if (!b || !s || !g || *g > *s) return bad();
  return Level{static_cast<int>(*b), static_cast<int>(*s), static_cast<int>(*g)};
}

// Drops the blocks, in random order, onto random stacks among the first `n`.
Stacks RandomStacks(int blocks, int total, int n, Rng& rng) {
  std::string order;
  for (int i = 0; i < blocks; ++i) order += static_cast<char>('A' + i);
  for (int i = blocks - 1; i > 0; --i) std::swap(order[i], order[rng.Uniform(0, i)]);
  Stacks st(total);
  for (char b : order) st[rng.Uniform(0, n - 1)] += b;
  return st;
}

std::string Render(const Stacks& st) {
  std::string out;
  for (size_t i = 0; i < st.size(); ++i) {
    out += "stack" + std::to_string(i + 1) + ":";
    for (char b : st[i]) out += std::string(" ") + b;
    out += "\n";
  }
  return out;
}

// Constructive planner (correct for >= 3 stacks): fill goal stacks bottom-up; a block is brought
// to its place after clearing the goal stack down to its correct prefix and unburying the block.
// Placed blocks are never moved again, so it terminates with the goal in O(B^2) moves.
std::vector<std::string> Plan(Stacks st, const Stacks& goal) {
  std::vector<std::string> moves;
  int n = static_cast<int>(st.size());
  auto move = [&](int from, int to) {
    char b = st[from].back();
    st[from].pop_back();
    st[to] += b;
    moves.push_back(std::string("Move ") + b + " from stack" + std::to_string(from + 1) +
                    " to stack" + std::to_string(to + 1));
  };
  auto other = [&](int a, int b) {
    for (int k = 1; k <= n; ++k) {
      int h = (a + k) % n;
      if (h != a && h != b) return h;
    }
    return -1;  // unreachable: n >= 3
  };
  for (int g = 0; g < n; ++g) {
    for (size_t k = 0; k < goal[g].size(); ++k) {
      if (st[g].size() > k && st[g].compare(0, k + 1, goal[g], 0, k + 1) == 0) continue;
      while (st[g].size() > k) move(g, other(g, g));
      int s = 0;
      while (st[s].find(goal[g][k]) == std::string::npos) ++s;
      while (st[s].back() != goal[g][k]) move(s, other(s, g));
      move(s, g);
    }
  }
  return moves;
}

// "stack3", "Stack3" or "3" -> 2 (0-based); -1 when not a stack name.
int StackIndex(std::string_view tok, int n) {
  std::string t = ToLowerAscii(tok);
  while (!t.empty() && (t.back() == '.' || t.back() == ',' || t.back() == ';')) t.pop_back();
  if (t.rfind("stack", 0) == 0) t = t.substr(5);
  auto v = ParseInt(t, 1, n);
  return (v && t[0] != '+' && t[0] != '-') ? static_cast<int>(*v) - 1 : -1;
}

std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

// Applies one "Move X from S to D" line; returns "" or the reason it is invalid.
std::string ApplyMove(std::string_view line, Stacks* st) {
  std::vector<std::string_view> w = Words(line);
  // Optional numbering: "1." "1)" "-" "*".
  if (!w.empty() && (w[0] == "-" || w[0] == "*" ||
                     (w[0].size() >= 2 && (w[0].back() == '.' || w[0].back() == ')') &&
                      ParseInt(w[0].substr(0, w[0].size() - 1), 0, 1000000)))) {
    w.erase(w.begin());
  }
  if (w.size() != 6 || ToLowerAscii(w[0]) != "move" || ToLowerAscii(w[2]) != "from" ||
      ToLowerAscii(w[4]) != "to") {
    return "not of the form 'Move X from S to D'";
  }
  int n = static_cast<int>(st->size());
  for (std::string_view t : {w[3], w[5]}) {
    if (ToLowerAscii(t).rfind("table", 0) == 0) return "'table' is not a stack (no table here)";
  }
  int from = StackIndex(w[3], n), to = StackIndex(w[5], n);
  if (from < 0 || to < 0) return "unknown stack (valid: stack1..stack" + std::to_string(n) + ")";
  if (from == to) return "source and destination are the same stack";
  if (w[1].size() != 1) return "block must be one letter";
  char b = w[1][0];
  if (b >= 'a' && b <= 'z') b = static_cast<char>(b - 'a' + 'A');
  if ((*st)[from].empty() || (*st)[from].back() != b) {
    return std::string("block ") + b + " is not on top of stack" + std::to_string(from + 1);
  }
  (*st)[from].pop_back();
  (*st)[to] += b;
  return "";
}

constexpr char kReference[] =
    R"PY(# Blocksworld without a table: only top blocks move, between the given stacks (>= 3).
# Constructive planner: fill each goal stack bottom-up. For the next block, clear the goal stack
# down to its already-correct prefix, unbury the block (moving blocks above it to a third stack)
# and move it into place. Placed blocks are never moved again, so this always reaches the goal.
def plan(stacks, goal):
    stacks = [list(s) for s in stacks]
    n = len(stacks)
    moves = []

    def move(src, dst):
        block = stacks[src].pop()
        stacks[dst].append(block)
        moves.append(f"Move {block} from stack{src + 1} to stack{dst + 1}")

    def other(a, b):
        for k in range(1, n + 1):
            h = (a + k) % n
            if h != a and h != b:
                return h
        raise ValueError("need at least 3 stacks")

    for g in range(n):
        target = goal[g]
        for k, block in enumerate(target):
            if stacks[g][:k + 1] == list(target[:k + 1]):
                continue
            while len(stacks[g]) > k:
                move(g, other(g, g))
            s = next(i for i, st in enumerate(stacks) if block in st)
            while stacks[s][-1] != block:
                move(s, other(s, g))
            move(s, g)
    assert stacks == [list(t) for t in goal]
    return moves


)PY";

class BlocksworldTask : public Task {
 public:
  std::string_view name() const override { return "blocksworld"; }
  std::string_view description() const override {
    return "Move blocks between stacks (top only, no table) to reach a goal (B_S_G: blocks, "
           "stacks, goal stacks)";
  }
  std::vector<std::string> complexity_levels() const override {
    std::vector<std::string> out;
    for (int b = 2; b <= 4; ++b) {
      for (int s = 3; s <= 5; ++s) {
        for (int g = 2; g <= std::min(s, 4); ++g) {
          out.push_back(std::to_string(b) + "_" + std::to_string(s) + "_" + std::to_string(g));
        }
      }
    }
    return out;
  }
  Status ValidateComplexity(std::string_view c) const override { return ParseLevel(c).status(); }
  int64_t InstanceCount(std::string_view) const override { return -1; }

  Result<Instance> Generate(std::string_view complexity, int64_t sample,
                            uint64_t seed) const override {
    CS_ASSIGN_OR_RETURN(Level lv, ParseLevel(complexity));
    Rng rng(InstanceSeed(name(), complexity, sample, seed));
    Stacks goal = RandomStacks(lv.blocks, lv.stacks, lv.goal_stacks, rng);
    Stacks init = RandomStacks(lv.blocks, lv.stacks, lv.stacks, rng);
    for (int tries = 0; init == goal && tries < 100; ++tries) {
      init = RandomStacks(lv.blocks, lv.stacks, lv.stacks, rng);
    }
    if (init == goal) std::rotate(init.begin(), init.end() - 1, init.end());
    std::vector<std::string> moves = Plan(init, goal);
    Instance inst;
    inst.task = std::string(name());
    inst.complexity = std::string(complexity);
    inst.sample = sample;
    inst.seed = seed;
    inst.prompt = Prompt(init, goal);
    inst.truth = "Goal State:\n" + Render(goal);
    for (const std::string& m : moves) inst.canonical_answer += m + "\n";
    inst.data = {{"initial", init}, {"goal", goal}};
    return inst;
  }

  Verdict Check(const Instance& instance, std::string_view answer) const override {
    Verdict v;
    Stacks st = instance.data.value("initial", Stacks());
    Stacks goal = instance.data.value("goal", Stacks());
    std::optional<std::string> inner = LastTripleAngle(answer);
    std::string_view text = inner ? std::string_view(*inner) : answer;
    int line_no = 0, moves = 0;
    for (std::string_view line : SplitOn(text, '\n')) {
      ++line_no;
      line = TrimAscii(line);
      if (line.empty()) continue;
      if (!inner && FindNoCase(line, "move") != 0) continue;  // fallback: only "Move ..." lines
      std::string err = ApplyMove(line, &st);
      if (!err.empty()) {
        v.source = inner ? AnswerSource::kTags : AnswerSource::kFallback;
        v.parsed = Truncate(line, 80);
        v.reason = "line " + std::to_string(line_no) + ": " + err;
        return v;
      }
      ++moves;
    }
    v.parsed = std::to_string(moves) + " moves; final:\n" + Truncate(Render(st), 400);
    v.source =
        inner ? AnswerSource::kTags : (moves > 0 ? AnswerSource::kFallback : AnswerSource::kNone);
    if (moves == 0) {
      v.reason = inner ? "no moves inside <<<>>>" : "no <<<answer>>> and no 'Move' lines";
    } else if (st != goal) {
      v.reason = "final stacks differ from the goal";
    } else {
      v.correct = true;
      v.score = 1.0;
      v.reason = "ok";
    }
    return v;
  }

  std::string ReferenceSolution(const Instance& instance) const override {
    return std::string(kReference) + "import json\ninitial = " +
           PyJsonLiteral(instance.data.value("initial", nlohmann::json::array())) +
           "  # stack i, bottom -> top\ngoal = " +
           PyJsonLiteral(instance.data.value("goal", nlohmann::json::array())) +
           "\nprint(\"<<<\\n\" + \"\\n\".join(plan(initial, goal)) + \"\\n>>>\")\n";
  }

 private:
  static std::string Prompt(const Stacks& init, const Stacks& goal) {
    return "Blocksworld. Blocks are arranged in stacks named stack1 to stack" +
           std::to_string(init.size()) +
           ", each listed from bottom to top. Only the top block of a stack can be moved, and only "
           "onto the top of another of these stacks (which may be empty). There is no table, and "
           "no new stacks can be created.\n\nInitial State:\n" +
           Render(init) + "\nGoal State:\n" + Render(goal) +
           "\nGive the sequence of moves that turns the initial state into the goal state, one "
           "move per line, in the format 'Move <block> from <source stack> to <destination "
           "stack>'. Output the final answer in the format <<<moves>>>, for example:\n"
           "<<<\nMove B from stack1 to stack3\nMove A from stack2 to stack1\n>>>";
  }
};

}  // namespace

std::unique_ptr<Task> MakeBlocksworldTask() { return std::make_unique<BlocksworldTask>(); }

}  // namespace codesweep
