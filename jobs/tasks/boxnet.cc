// boxnet: a grid of agents (one per square) moves coloured boxes to same-colour targets.
// Generator mirrors CodeSteer's released BoxNet1 data (5 colours, 1-3 boxes each, uniform cells);
// the checker simulates the JSON plan step by step. See docs/tasks.md for the rules we chose.
#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "jobs/tasks/common.h"
#include "jobs/tasks/factories.h"
#include "jobs/tasks/plan_common.h"

namespace codesweep {
namespace {

constexpr int kMaxSide = 8;
constexpr std::array<std::string_view, 5> kColours = {"blue", "red", "green", "purple", "orange"};
using Counts = std::array<int, kColours.size()>;

struct Grid {
  int rows = 0;
  int cols = 0;
  std::vector<Counts> boxes;    // per cell (r * cols + c)
  std::vector<Counts> targets;  // per cell
  int cells() const { return rows * cols; }
};

Status ParseSize(std::string_view c, int* rows, int* cols) {
  size_t x = c.find('x');
  auto num = [](std::string_view s, int* out) {
    auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
    return !s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size();
  };
  if (x == std::string_view::npos || !num(c.substr(0, x), rows) || !num(c.substr(x + 1), cols) ||
      *rows < 1 || *rows > kMaxSide || *cols < 1 || *cols > kMaxSide) {
    return Status::InvalidArgument("boxnet complexity must be \"RxC\" with 1 <= R, C <= 8, got \"" +
                                   Truncate(c, 40) + "\"");
  }
  return Status::OK();
}

int ColourIndex(std::string_view name) {
  for (size_t i = 0; i < kColours.size(); ++i) {
    if (kColours[i] == name) return static_cast<int>(i);
  }
  return -1;
}

std::string CellName(int r, int c) { return std::to_string(r) + ".5, " + std::to_string(c) + ".5"; }

std::vector<std::pair<int, int>> Neighbours(const Grid& g, int r, int c) {
  std::vector<std::pair<int, int>> out;
  for (auto [dr, dc] : {std::pair{-1, 0}, {1, 0}, {0, -1}, {0, 1}}) {
    if (r + dr >= 0 && r + dr < g.rows && c + dc >= 0 && c + dc < g.cols) {
      out.emplace_back(r + dr, c + dc);
    }
  }
  return out;
}

// Reads instance.data {"rows", "cols", "cells": [[item, ...] per cell]} into counts.
bool ReadGrid(const nlohmann::json& d, Grid* g) {
  if (!d.is_object() || !d.contains("rows") || !d.contains("cols") || !d.contains("cells") ||
      !d["rows"].is_number_integer() || !d["cols"].is_number_integer() || !d["cells"].is_array()) {
    return false;
  }
  g->rows = d["rows"].get<int>();
  g->cols = d["cols"].get<int>();
  if (g->rows < 1 || g->rows > kMaxSide || g->cols < 1 || g->cols > kMaxSide ||
      d["cells"].size() != static_cast<size_t>(g->cells())) {
    return false;
  }
  g->boxes.assign(g->cells(), Counts{});
  g->targets.assign(g->cells(), Counts{});
  for (int i = 0; i < g->cells(); ++i) {
    for (const auto& item : d["cells"][i]) {
      if (!item.is_string()) return false;
      const std::string& s = item.get_ref<const std::string&>();
      bool is_box = s.rfind("box_", 0) == 0;
      int colour = ColourIndex(std::string_view(s).substr(is_box ? 4 : 7));
      if (colour < 0 || (!is_box && s.rfind("target_", 0) != 0)) return false;
      (is_box ? g->boxes : g->targets)[i][colour]++;
    }
  }
  return true;
}

int TotalBoxes(const Grid& g) {
  int n = 0;
  for (const auto& c : g.boxes)
    for (int k : c) n += k;
  return n;
}

// Parses "x, y" half-integer cell coordinates from "<prefix>[x, y]" at the scanner.
std::optional<int> ParseCell(PlanScanner& sc, const Grid& g) {
  if (!sc.Eat('[')) return std::nullopt;
  auto x = sc.Number();
  if (!x || !sc.Eat(',')) return std::nullopt;
  auto y = sc.Number();
  if (!y || !sc.Eat(']')) return std::nullopt;
  double r = *x - 0.5, c = *y - 0.5;
  if (r != std::floor(r) || c != std::floor(c) || r < 0 || c < 0 || r >= g.rows || c >= g.cols) {
    return -1;
  }
  return static_cast<int>(r) * g.cols + static_cast<int>(c);
}

struct Action {
  int cell = -1;
  int colour = -1;
  bool to_target = false;
  int dest = -1;  // destination cell when !to_target
};

// Parses `"Agent[x, y]": "move(box_c, square[x', y'] | target_c)"`; returns "" or an error.
std::string ParseAction(const Grid& g, const std::string& key, const nlohmann::ordered_json& value,
                        Action* a) {
  PlanScanner ks(key);
  int cell = -2;
  if (ks.EatWord("Agent")) cell = ParseCell(ks, g).value_or(-2);
  ks.SkipSpace();
  if (cell == -2 || !ks.AtEnd()) return "key \"" + Truncate(key, 40) + "\" is not \"Agent[x, y]\"";
  if (cell < 0) return "no agent at " + Truncate(key, 40);
  a->cell = cell;
  if (!value.is_string()) return "action of " + Truncate(key, 40) + " is not a string";
  const std::string& v = value.get_ref<const std::string&>();
  PlanScanner vs(v);
  const std::string bad = "action \"" + Truncate(v, 60) + "\" is not move(box_<colour>, ...)";
  if (!vs.EatWord("move") || !vs.Eat('(') || !vs.EatWord("box_")) return bad;
  size_t start = vs.pos();
  while (vs.Peek() >= 'a' && vs.Peek() <= 'z') vs.set_pos(vs.pos() + 1);
  a->colour = ColourIndex(std::string_view(v).substr(start, vs.pos() - start));
  if (a->colour < 0 || !vs.Eat(',')) return bad;
  if (vs.EatWord("target_")) {
    a->to_target = true;
    size_t t = vs.pos();
    while (vs.Peek() >= 'a' && vs.Peek() <= 'z') vs.set_pos(vs.pos() + 1);
    if (std::string_view(v).substr(t, vs.pos() - t) != kColours[a->colour]) {
      return "\"" + Truncate(v, 60) + "\": box and target colours differ";
    }
  } else {
    std::optional<int> dest = vs.EatWord("square") ? ParseCell(vs, g) : std::nullopt;
    if (!dest) return bad;
    if (*dest < 0) return "\"" + Truncate(v, 60) + "\": no such square";
    a->dest = *dest;
  }
  if (!vs.Eat(')') || (vs.SkipSpace(), !vs.AtEnd())) return bad;
  return "";
}

// Executes one parsed action against the grid; boxes moved to another square land in `arriving`
// (usable from the next step). Returns "" or why the action is illegal.
std::string Apply(Grid& g, const Action& a, std::vector<Counts>& arriving, int* delivered) {
  const std::string where = "Agent[" + CellName(a.cell / g.cols, a.cell % g.cols) + "]";
  const std::string box = "box_" + std::string(kColours[a.colour]);
  if (g.boxes[a.cell][a.colour] == 0) return where + " has no " + box + " at the start of the step";
  if (a.to_target) {
    if (g.targets[a.cell][a.colour] == 0)
      return where + " has no target_" + std::string(kColours[a.colour]);
    g.targets[a.cell][a.colour]--;
    g.boxes[a.cell][a.colour]--;
    ++*delivered;
    return "";
  }
  int dr = std::abs(a.dest / g.cols - a.cell / g.cols),
      dc = std::abs(a.dest % g.cols - a.cell % g.cols);
  if (dr + dc != 1) return where + " cannot move " + box + " to a square that is not adjacent";
  g.boxes[a.cell][a.colour]--;
  arriving[a.dest][a.colour]++;
  return "";
}

// Simulates the plan; fills v. Stops at the first illegal action or malformed step.
void Simulate(Grid g, const nlohmann::ordered_json& plan, Verdict* v) {
  const int total = TotalBoxes(g);
  int delivered = 0;
  std::string failure;
  for (size_t s = 0; s < plan.size() && failure.empty(); ++s) {
    const auto& step = plan[s];
    if (!step.is_object()) {
      failure = "step " + std::to_string(s + 1) + " is not a JSON object";
      break;
    }
    std::vector<Counts> arriving(g.cells(), Counts{});
    std::set<int> acted;
    for (auto it = step.begin(); it != step.end() && failure.empty(); ++it) {
      Action a;
      std::string why = ParseAction(g, it.key(), it.value(), &a);
      if (why.empty() && !acted.insert(a.cell).second) why = "an agent acts twice";
      if (why.empty()) why = Apply(g, a, arriving, &delivered);
      if (!why.empty()) failure = "step " + std::to_string(s + 1) + ": " + why;
    }
    for (int i = 0; i < g.cells(); ++i)
      for (size_t k = 0; k < kColours.size(); ++k) g.boxes[i][k] += arriving[i][k];
  }
  if (failure.empty() && delivered < total) {
    failure =
        std::to_string(total - delivered) + " of " + std::to_string(total) + " boxes not delivered";
  }
  v->score = total > 0 ? static_cast<double>(delivered) / total : 0.0;
  v->correct = failure.empty();
  v->reason = failure.empty() ? "ok" : failure;
}

// A plan that routes every box along a shortest path to a same-colour target (targets assigned
// per colour by the cheapest permutation); every agent acts on one box per step.
std::string CanonicalPlan(const Grid& g) {
  struct Box {
    int cell, colour, target;
  };
  std::vector<Box> boxes;
  auto dist = [&](int a, int b) {
    return std::abs(a / g.cols - b / g.cols) + std::abs(a % g.cols - b % g.cols);
  };
  for (size_t k = 0; k < kColours.size(); ++k) {
    std::vector<int> bs, ts;
    for (int i = 0; i < g.cells(); ++i) {
      for (int n = 0; n < g.boxes[i][k]; ++n) bs.push_back(i);
      for (int n = 0; n < g.targets[i][k]; ++n) ts.push_back(i);
    }
    std::vector<int> perm(ts.size()), best;
    for (size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int>(i);
    int best_cost = -1;
    do {
      int cost = 0;
      for (size_t i = 0; i < bs.size() && i < perm.size(); ++i) cost += dist(bs[i], ts[perm[i]]);
      if (best_cost < 0 || cost < best_cost) best_cost = cost, best = perm;
    } while (perm.size() <= 6 && std::next_permutation(perm.begin(), perm.end()));
    for (size_t i = 0; i < bs.size() && i < best.size(); ++i) {
      boxes.push_back({bs[i], static_cast<int>(k), ts[best[i]]});
    }
  }
  std::string plan = "[";  // JSON written directly: keys and values need no escaping
  std::vector<bool> done(boxes.size(), false);
  for (size_t remaining = boxes.size(); remaining > 0;) {
    std::string step;
    std::vector<int> next_cell(boxes.size(), -1);
    std::set<int> busy;
    for (int pass = 0; pass < 2; ++pass) {  // deliveries first, then moves
      for (size_t b = 0; b < boxes.size(); ++b) {
        Box& x = boxes[b];
        if (done[b] || busy.count(x.cell) || (pass == 0) != (x.cell == x.target)) continue;
        busy.insert(x.cell);
        const std::string key = "Agent[" + CellName(x.cell / g.cols, x.cell % g.cols) + "]";
        const std::string box = "box_" + std::string(kColours[x.colour]);
        if (pass == 0) {
          step += (step.empty() ? "{\"" : ",\"") + key + "\":\"move(" + box + ", target_" +
                  std::string(kColours[x.colour]) + ")\"";
          done[b] = true;
          --remaining;
          continue;
        }
        int r = x.cell / g.cols, c = x.cell % g.cols;
        int tr = x.target / g.cols, tc = x.target % g.cols;
        int nr = r != tr ? r + (tr > r ? 1 : -1) : r;
        int nc = r != tr ? c : c + (tc > c ? 1 : -1);
        step += (step.empty() ? "{\"" : ",\"") + key + "\":\"move(" + box + ", square[" +
                CellName(nr, nc) + "])\"";
        next_cell[b] = nr * g.cols + nc;
      }
    }
    for (size_t b = 0; b < boxes.size(); ++b)
      if (next_cell[b] >= 0) boxes[b].cell = next_cell[b];
    plan += (plan.size() > 1 ? "," : "") + step + "}";
  }
  return plan + "]";
}

std::string PyStrList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", '" : "'") + items[i] + "'";
  return out + "]";
}

constexpr std::string_view kPromptHead =
    "You are a central planner tasked with directing agents in a grid-like field to move colored "
    "boxes to their corresponding color-coded targets. Each agent occupies a 1x1 square and can "
    "only interact with objects within its square. Agents can move a box to an adjacent square or "
    "directly to a target square of the same color. A square may contain multiple boxes and "
    "targets.\n\nThe squares are identified by their center coordinates (e.g., square[0.5, 0.5]). "
    "Actions are formatted as: move(box_color, destination), where box_color is the color of the "
    "box and destination is either a target of the same color or an adjacent square.\n\n"
    "Your objective is to create a sequence of action plans that instructs each agent to match "
    "all boxes to their color-coded targets in the most efficient manner.\n\n"
    "Please adhere to the following rules when specifying your action plan:\n\n"
    "1. **Single Action per Agent**: Assign only one action to each agent at a time. However, the "
    "final answer should be a list of action plans for multiple steps.\n\n"
    "2. **Unique Agent Keys**: Use unique keys for each agent in the JSON format action plan. The "
    "key should be the agent's coordinates in the format \"Agent[x, y]\".\n\n"
    "3. **Prioritize Matching Boxes to Targets**: Always prioritize actions that will match a box "
    "to its target over moving a box to an adjacent square.\n\n"
    "4. **Sequential Action Planning**: The whole returned answer should be a list of action "
    "plans for multiple steps, do not just return one step plan.\n\n"
    "5. **Clear Formatting**: Ensure the action plan is clearly formatted in JSON, with each "
    "agent's action specified as a key-value pair.\n\n"
    "6. **Conflict Resolution**: Ensure that no two agents are assigned actions that would "
    "interfere with each other. Within one step every agent acts on what its square held at the "
    "start of that step: a box moved into a square can be moved on from the next step. An action "
    "that cannot be executed makes the whole plan invalid.\n\n"
    "7. **Optimize Efficiency**: Aim to minimize the number of moves required to match all boxes "
    "with their targets.\n\nHere is the format for your action plan:\n```json\n"
    "[{\"Agent[0.5, 0.5]\":\"move(box_blue, square[0.5, 1.5])\", \"Agent[1.5, "
    "0.5]\":\"move(box_red, "
    "target_red)\"}, {\"Agent[0.5, 1.5]\":\"move(box_blue, target_blue)\", \"Agent[2.5, 0.5]\":"
    "\"move...}, {...}...]\n```\nInclude an agent in the action plan only if it has a task to "
    "perform next.\n\nSurround the answer with <<<content>>>.\n\n"
    "The current left boxes and agents are:\n";

class BoxNetTask final : public Task {
 public:
  std::string_view name() const override { return "boxnet"; }
  std::string_view description() const override {
    return "Plan agent actions on an R x C grid that bring every coloured box to a same-colour "
           "target; JSON list of per-step dicts; partial score = fraction delivered.";
  }
  std::vector<std::string> complexity_levels() const override {
    return {"1x2", "2x2", "2x4", "4x4", "4x8"};
  }
  Status ValidateComplexity(std::string_view c) const override {
    int r, k;
    return ParseSize(c, &r, &k);
  }
  int64_t InstanceCount(std::string_view) const override { return -1; }
  bool has_partial_score() const override { return true; }

  Result<Instance> Generate(std::string_view complexity, int64_t sample,
                            uint64_t seed) const override {
    int rows = 0, cols = 0;
    CS_RETURN_IF_ERROR(ParseSize(complexity, &rows, &cols));
    Rng rng = PlanRng(name(), complexity, sample, seed);
    std::vector<std::vector<std::string>> cells(rows * cols);
    for (std::string_view colour : kColours) {
      int64_t n = rng.Uniform(1, 3);
      for (int64_t i = 0; i < n; ++i) {
        cells[rng.Uniform(0, rows * cols - 1)].push_back("box_" + std::string(colour));
        cells[rng.Uniform(0, rows * cols - 1)].push_back("target_" + std::string(colour));
      }
    }
    Instance inst;
    inst.task = name();
    inst.complexity = std::string(complexity);
    inst.sample = sample;
    inst.seed = seed;
    inst.data = {{"rows", rows}, {"cols", cols}, {"cells", cells}};
    Grid g;
    ReadGrid(inst.data, &g);
    inst.prompt = Prompt(g, cells);
    inst.canonical_answer = CanonicalPlan(g);
    inst.truth =
        "deliver all " + std::to_string(TotalBoxes(g)) + " boxes, e.g. " + inst.canonical_answer;
    return inst;
  }

  Verdict Check(const Instance& inst, std::string_view answer) const override {
    Verdict v;
    Grid g;
    if (!ReadGrid(inst.data, &g)) {
      v.reason = "instance data is malformed";
      return v;
    }
    std::optional<std::string> text = AnswerOrLastList(answer);
    if (!text) {
      v.reason = "no <<<answer>>> or JSON list found";
      return v;
    }
    v.source = LastTripleAngle(answer) ? AnswerSource::kTags : AnswerSource::kFallback;
    v.parsed = Truncate(TrimAscii(*text));
    if (text->size() > kMaxPlanAnswerBytes) {
      v.reason = "answer longer than 1 MiB";
      return v;
    }
    if (BracketDepth(*text, 32) >= 32) {
      v.reason = "answer nests brackets too deeply";
      return v;
    }
    nlohmann::ordered_json plan = nlohmann::ordered_json::parse(*text, nullptr, false);
    if (plan.is_discarded() || !plan.is_array()) {
      v.reason = "answer is not a JSON list of step objects";
      return v;
    }
    Simulate(std::move(g), plan, &v);
    return v;
  }

  std::string ReferenceSolution(const Instance& inst) const override;

 private:
  static std::string Prompt(const Grid& g, const std::vector<std::vector<std::string>>& cells) {
    std::string p(kPromptHead);
    for (int r = 0; r < g.rows; ++r) {
      for (int c = 0; c < g.cols; ++c) {
        int i = r * g.cols + c;
        std::vector<std::string> actions;
        for (size_t k = 0; k < kColours.size(); ++k) {
          if (g.boxes[i][k] == 0) continue;
          const std::string box = "box_" + std::string(kColours[k]);
          for (auto [nr, nc] : Neighbours(g, r, c))
            actions.push_back("move(" + box + ", square[" + CellName(nr, nc) + "])");
          if (g.targets[i][k] > 0)
            actions.push_back("move(" + box + ", target_" + std::string(kColours[k]) + ")");
        }
        p += "Agent[" + CellName(r, c) + "]: I am in square[" + CellName(r, c) +
             "], I can observe " + PyStrList(cells[i]) + ", I can do " + PyStrList(actions) + "\n";
      }
    }
    p += "\nPlease respond in the format: <<<list of action dictionary>>>, such as "
         "<<<[{\"Agent[0.5, 0.5]\":\"move(box_blue, square[0.5, 1.5])\", \"Agent[1.5, 0.5]\":"
         "\"move...}, {\"Agent[0.5, 1.5]\":\"move(box_blue, target_blue)\"}, {...}...]>>>.\n";
    return p;
  }
};

constexpr std::string_view kReferenceProgram = R"PY(import json
from collections import deque
from itertools import permutations


def bfs(rows, cols, src):
    """Shortest-path distances over the 4-connected grid from cell src = (r, c)."""
    dist = {src: 0}
    queue = deque([src])
    while queue:
        r, c = queue.popleft()
        for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if 0 <= nr < rows and 0 <= nc < cols and (nr, nc) not in dist:
                dist[(nr, nc)] = dist[(r, c)] + 1
                queue.append((nr, nc))
    return dist


def assign_targets(rows, cols, cells):
    """Each box gets its own same-colour target; per colour, the cheapest pairing."""
    boxes, targets = {}, {}
    for idx, items in enumerate(cells):
        cell = (idx // cols, idx % cols)
        for item in items:
            kind, colour = item.split("_", 1)
            (boxes if kind == "box" else targets).setdefault(colour, []).append(cell)
    dists = {}
    plan = []
    for colour, bs in boxes.items():
        ts = targets.get(colour, [])
        for t in ts:
            dists.setdefault(t, bfs(rows, cols, t))
        best = None
        for perm in permutations(range(len(ts)), len(bs)):
            cost = sum(dists[ts[p]][b] for b, p in zip(bs, perm))
            if best is None or cost < best[0]:
                best = (cost, perm)
        for b, p in zip(bs, best[1]):
            plan.append([colour, b, ts[p]])
    return plan, dists


def name(cell):
    return "%s, %s" % (cell[0] + 0.5, cell[1] + 0.5)


def solve(rows, cols, cells):
    boxes, dists = assign_targets(rows, cols, cells)
    steps = []
    while boxes:
        step, busy, moved, delivered = {}, set(), [], set()
        for deliver in (True, False):
            for i, (colour, cell, target) in enumerate(boxes):
                if cell in busy or (cell == target) != deliver:
                    continue
                busy.add(cell)
                key = "Agent[%s]" % name(cell)
                if deliver:
                    step[key] = "move(box_%s, target_%s)" % (colour, colour)
                    delivered.add(i)
                    continue
                r, c = cell
                nxt = min(((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)),
                          key=lambda n: dists[target].get(n, 1 << 30))
                step[key] = "move(box_%s, square[%s])" % (colour, name(nxt))
                moved.append((i, nxt))
        for i, nxt in moved:
            boxes[i][1] = nxt
        boxes = [b for i, b in enumerate(boxes) if i not in delivered]
        steps.append(step)
    print("<<<" + json.dumps(steps) + ">>>")


)PY";

std::string BoxNetTask::ReferenceSolution(const Instance& inst) const {
  return std::string(kReferenceProgram) +
         "ROWS = " + inst.data.value("rows", nlohmann::json(0)).dump() +
         "\nCOLS = " + inst.data.value("cols", nlohmann::json(0)).dump() +
         "\nCELLS = " + inst.data.value("cells", nlohmann::json::array()).dump() +
         "\nsolve(ROWS, COLS, CELLS)\n";
}

}  // namespace

std::unique_ptr<Task> MakeBoxNetTask() { return std::make_unique<BoxNetTask>(); }

}  // namespace codesweep
