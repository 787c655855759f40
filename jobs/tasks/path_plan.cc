// path_plan: a polyline through a walled 2-D room that enters some coloured boxes and avoids
// others. 14 environments x 10 instructions from data/path_plan/environments.json (CodeSteer);
// sample i is instance PermutedItem(i) of 140 (instance k: environment k/10, instruction k%10),
// a seeded shuffle, so a few samples already see many environments. The checker treats
// touching a closed rectangle as entering it (the prompt's rule). See docs/tasks.md.
#include <cmath>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/json_depth.h"
#include "jobs/tasks/common.h"
#include "jobs/tasks/factories.h"
#include "jobs/tasks/plan_common.h"
#include "jobs/tasks/plan_geometry.h"

namespace codesweep {
namespace {

using Json = nlohmann::ordered_json;
constexpr int kInstructions = 10;
constexpr size_t kMaxWaypoints = 100000;

// One of the 140 instances, rendered once when the task is built.
struct Prepared {
  nlohmann::json data;
  std::string prompt;
  std::string truth;
  std::string canonical;  // a planned polyline, "" if the planner found none
};

Rect ToRect(const Json& j) {
  return {j[0].get<double>(), j[1].get<double>(), j[2].get<double>(), j[3].get<double>()};
}
Pt ToPt(const Json& j) { return {j[0].get<double>(), j[1].get<double>()}; }

bool IsNumbers(const Json& j, size_t n) {
  if (!j.is_array() || j.size() != n) return false;
  for (const auto& x : j) {
    if (!x.is_number() || !std::isfinite(x.get<double>())) return false;
  }
  return true;
}

// "(a, b, c, d)" with the numbers exactly as the source wrote them.
std::string PyTuple(const Json& j) {
  std::string out = "(";
  for (size_t i = 0; i < j.size(); ++i) out += (i ? ", " : "") + j[i].dump();
  return out + ")";
}

std::string PyStrList(const Json& j) {
  std::string out = "[";
  for (size_t i = 0; i < j.size(); ++i) out += (i ? ", " : "") + j[i].dump();
  return out + "]";
}

Status ValidateEnv(const Json& e, size_t n_walls) {
  if (!e.is_object() || !e.contains("boxes") || !e["boxes"].is_object() ||
      !IsNumbers(e.value("start", Json()), 2) || !IsNumbers(e.value("end", Json()), 2) ||
      !e.contains("instructions") || !e["instructions"].is_array() ||
      e["instructions"].size() != kInstructions || n_walls == 0) {
    return Status::Corruption("path_plan: malformed environment");
  }
  for (const auto& [colour, rect] : e["boxes"].items()) {
    if (!IsNumbers(rect, 4)) return Status::Corruption("path_plan: bad rectangle for " + colour);
  }
  for (const auto& ins : e["instructions"]) {
    if (!ins.is_object() || !ins.value("text", Json()).is_string()) {
      return Status::Corruption("path_plan: malformed instruction");
    }
    for (const char* key : {"must_enter", "must_not_enter"}) {
      if (!ins.contains(key) || !ins[key].is_array())
        return Status::Corruption("path_plan: no " + std::string(key));
      for (const auto& c : ins[key]) {
        if (!c.is_string() || !e["boxes"].contains(c.get<std::string>())) {
          return Status::Corruption("path_plan: unknown colour in instruction");
        }
      }
    }
  }
  return Status::OK();
}

std::string RenderPolyline(const std::vector<Pt>& pts) {
  std::string out = "[";
  for (size_t i = 0; i < pts.size(); ++i) {
    out += (i ? ", (" : "(") + PyFloat(pts[i].x) + ", " + PyFloat(pts[i].y) + ")";
  }
  return out + "]";
}

// Parses "[(x, y), (x, y), ...]" (brackets or parentheses per point); "" or an error.
std::string ParseWaypoints(std::string_view text, std::vector<Pt>* pts) {
  PlanScanner sc(text);
  if (!sc.Eat('[')) return "answer is not a list of waypoints [(x, y), ...]";
  while (!sc.Eat(']')) {
    if (!pts->empty() && !sc.Eat(',')) return "expected ',' between waypoints";
    if (sc.Eat(']')) break;  // trailing comma
    char open = sc.Eat('(') ? '(' : (sc.Eat('[') ? '[' : '\0');
    auto x = open ? sc.Number() : std::nullopt;
    auto y = x && sc.Eat(',') ? sc.Number() : std::nullopt;
    if (!y || !sc.Eat(open == '(' ? ')' : ']')) {
      return "waypoint " + std::to_string(pts->size() + 1) + " is not a pair of finite numbers";
    }
    if (pts->size() >= kMaxWaypoints) return "more than 100000 waypoints";
    pts->push_back({*x, *y});
  }
  sc.SkipSpace();
  if (!sc.AtEnd()) return "unexpected text after the waypoint list";
  return "";
}

class PathPlanTask final : public Task {
 public:
  explicit PathPlanTask(std::vector<Prepared> instances) : instances_(std::move(instances)) {}

  std::string_view name() const override { return "path_plan"; }
  std::string_view description() const override {
    return "Plan a waypoint polyline in a walled room that enters required coloured boxes and "
           "never touches forbidden ones (14 environments x 10 instructions).";
  }
  std::vector<std::string> complexity_levels() const override { return {}; }
  Status ValidateComplexity(std::string_view c) const override {
    if (c.empty()) return Status::OK();
    return Status::InvalidArgument("path_plan has no complexity levels; use \"\"");
  }
  int64_t InstanceCount(std::string_view) const override {
    return static_cast<int64_t>(instances_.size());
  }

  Result<Instance> Generate(std::string_view complexity, int64_t sample,
                            uint64_t seed) const override {
    CS_RETURN_IF_ERROR(ValidateComplexity(complexity));
    const Prepared& p =
        instances_[PermutedItem(name(), complexity, sample, seed, instances_.size())];
    Instance inst;
    inst.task = name();
    inst.sample = sample;
    inst.seed = seed;
    inst.data = p.data;
    inst.prompt = p.prompt;
    inst.truth = p.truth;
    inst.canonical_answer = p.canonical;
    return inst;
  }

  Verdict Check(const Instance& inst, std::string_view answer) const override;
  std::string ReferenceSolution(const Instance& inst) const override;

 private:
  std::vector<Prepared> instances_;
};

std::string Prompt(const Json& walls, const Json& env, const std::string& instruction) {
  std::string desc = "First, there are four black colored walls with position " + PyTuple(walls[0]);
  for (size_t i = 1; i < walls.size(); ++i) desc += ", " + PyTuple(walls[i]);
  desc += ". Then the boxes are:";
  bool first = true;
  for (const auto& [colour, rect] : env["boxes"].items()) {
    desc += std::string(first ? "" : ";") + " a " + colour + " colored box " + PyTuple(rect);
    first = false;
  }
  desc += ".";
  return "I am a mobile robot and I hope you can help me plan the trajectory to fulfill the "
         "navigation instruction. I will give you the position and size of each box in the whole "
         "environment and the instruction is to enter or avoid the box. Each box is of square "
         "shape, I will give you (x_start, x_end, y_start, y_end) to describe the shape of "
         "squares/boxes. x_start, x_end denote the boundary of squares/boxes in x coordinates. "
         "y_start, y_end denote the boundary of squares/boxes in y coordinates.\n\n" +
         desc +
         "\n\nDuring navigation, the trajectory should always not touch the black wall. The "
         "starting position of the car is " +
         PyTuple(env["start"]) + ", the ending position of the car is " + PyTuple(env["end"]) +
         ".\n\nThe instruction is '" + instruction +
         "'. The car should fulfill the instruction and in the end stop at the end position. "
         "Could you give me the trajectory to realize the above instruction? Return your answer "
         "with a list of waypoints [(x0, y0), (x1, y1)...]. The first waypoint must be the "
         "starting position and the last waypoint the ending position.\n\nNote that the whole "
         "trajectory is acquired by directly connecting the near waypoints with straight lines. "
         "These straight lines should also fulfill the instruction requirements. Particularly "
         "check whether the interpolated straight lines enter into the areas that should avoid."
         "\n\nNote that entering in the area means the trajectory intersects with the box, "
         "including the boundary of the box. Hence, the trajectory should not intersect with the "
         "boundary of the box if the instruction is to avoid the box.\n\nSurround the final list "
         "of waypoints with <<<>>>, e.g. <<<[(x0, y0), (x1, y1), ...]>>>.\n";
}

constexpr std::string_view kReferenceProgram = R"PY(import heapq
import itertools

MARGIN = 0.01  # waypoints keep this distance from blocked rectangles; segments keep half of it


def touches(p, q, rect, pad=0.0):
    """True if segment p-q meets the closed rectangle rect = (x0, x1, y0, y1) grown by pad."""
    t0, t1 = 0.0, 1.0
    for axis, lo, hi in ((0, rect[0] - pad, rect[1] + pad), (1, rect[2] - pad, rect[3] + pad)):
        s, d = p[axis], q[axis] - p[axis]
        if d == 0:
            if s < lo or s > hi:
                return False
            continue
        a, b = (lo - s) / d, (hi - s) / d
        if a > b:
            a, b = b, a
        t0, t1 = max(t0, a), min(t1, b)
        if t0 > t1:
            return False
    return True


def plan(walls, boxes, start, end, must_enter, must_not_enter):
    """Shortest polyline (over a visibility graph) from start to end that enters every box in
    must_enter and never touches a wall or a box in must_not_enter. None if none is found."""
    blocked = list(walls) + [boxes[c] for c in must_not_enter]
    start, end = tuple(start), tuple(end)

    def clear(p, q, pad=MARGIN / 2):
        return not any(touches(p, q, r, pad) for r in blocked)

    nodes = [start, end]
    for x0, x1, y0, y1 in blocked:
        for x in (x0 - MARGIN, x1 + MARGIN):
            for y in (y0 - MARGIN, y1 + MARGIN):
                if clear((x, y), (x, y)):
                    nodes.append((x, y))
    goals = {}
    for colour in must_enter:
        x0, x1, y0, y1 = boxes[colour]
        xs = [x0 + MARGIN, (x0 + x1) / 2, x1 - MARGIN] if x1 - x0 > 2 * MARGIN else [(x0 + x1) / 2]
        ys = [y0 + MARGIN, (y0 + y1) / 2, y1 - MARGIN] if y1 - y0 > 2 * MARGIN else [(y0 + y1) / 2]
        goals[colour] = []
        for x in xs:
            for y in ys:
                if clear((x, y), (x, y)):
                    goals[colour].append(len(nodes))
                    nodes.append((x, y))
        if not goals[colour]:
            return None
    n = len(nodes)
    # Segments from the exact start and end only need to avoid the closed rectangles.
    adj = [[] for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            pad = 0.0 if i < 2 else MARGIN / 2
            if clear(nodes[i], nodes[j], pad):
                d = ((nodes[i][0] - nodes[j][0]) ** 2 + (nodes[i][1] - nodes[j][1]) ** 2) ** 0.5
                adj[i].append((j, d))
                adj[j].append((i, d))

    def dijkstra(src):
        dist, prev = {src: 0.0}, {}
        heap = [(0.0, src)]
        while heap:
            d, u = heapq.heappop(heap)
            if d > dist[u]:
                continue
            for v, w in adj[u]:
                if d + w < dist.get(v, float("inf")):
                    dist[v], prev[v] = d + w, u
                    heapq.heappush(heap, (d + w, v))
        return dist, prev

    keys = [0] + [g for c in must_enter for g in goals[c]]
    trees = {k: dijkstra(k) for k in keys}
    inf = float("inf")
    best = (inf, None)
    for order in itertools.permutations(must_enter):
        # Cheapest goal choice per colour for this order (dynamic programming over the chain).
        layer = {0: (0.0, [0])}
        for colour in order:
            nxt = {}
            for g in goals[colour]:
                for u, (cost, seq) in layer.items():
                    d = trees[u][0].get(g, inf)
                    if cost + d < nxt.get(g, (inf,))[0]:
                        nxt[g] = (cost + d, seq + [g])
            layer = nxt
        for u, (cost, seq) in layer.items():
            d = trees[u][0].get(1, inf)
            if cost + d < best[0]:
                best = (cost + d, seq + [1])
    if best[1] is None:
        return None
    path = [0]
    for a, b in zip(best[1], best[1][1:]):
        prev = trees[a][1] if a in trees else dijkstra(a)[1]
        leg = [b]
        while leg[-1] != a:
            leg.append(prev[leg[-1]])
        path.extend(reversed(leg[:-1]))
    points = [nodes[i] for i in path]
    out = [points[0]]
    for p in points[1:]:
        if p != out[-1]:
            out.append(p)
    if len(out) == 1:
        out.append(out[0])
    return out


def solve(walls, boxes, start, end, must_enter, must_not_enter):
    waypoints = plan(walls, boxes, start, end, must_enter, must_not_enter)
    if waypoints is None:
        print("No trajectory satisfies the instruction.")
        return
    print("<<<[" + ", ".join("(%r, %r)" % (x, y) for x, y in waypoints) + "]>>>")


)PY";

// Reads the rectangles of the instance for the checker; false if the data is malformed.
bool ReadInstance(const Instance& inst, std::vector<Rect>* walls,
                  std::vector<std::pair<std::string, Rect>>* must,
                  std::vector<std::pair<std::string, Rect>>* never, Pt* start, Pt* end) {
  const auto& d = inst.data;
  if (!d.is_object() || !d.contains("walls") || !d["walls"].is_array() || !d.contains("boxes") ||
      !d["boxes"].is_object() || !IsNumbers(d.value("start", nlohmann::json()), 2) ||
      !IsNumbers(d.value("end", nlohmann::json()), 2)) {
    return false;
  }
  for (const auto& w : d["walls"]) {
    if (!IsNumbers(w, 4)) return false;
    walls->push_back(ToRect(w));
  }
  for (auto [key, out] : {std::pair{"must_enter", must}, {"must_not_enter", never}}) {
    if (!d.contains(key) || !d[key].is_array()) return false;
    for (const auto& c : d[key]) {
      if (!c.is_string() || !d["boxes"].contains(c.get<std::string>())) return false;
      const auto& rect = d["boxes"][c.get<std::string>()];
      if (!IsNumbers(rect, 4)) return false;
      out->emplace_back(c.get<std::string>(), ToRect(rect));
    }
  }
  *start = ToPt(d["start"]);
  *end = ToPt(d["end"]);
  return true;
}

std::string SegmentName(size_t i, const std::vector<Pt>& pts) {
  return "segment " + std::to_string(i + 1) + " (" + PyFloat(pts[i].x) + ", " + PyFloat(pts[i].y) +
         ")->(" + PyFloat(pts[i + 1].x) + ", " + PyFloat(pts[i + 1].y) + ")";
}

Verdict PathPlanTask::Check(const Instance& inst, std::string_view answer) const {
  Verdict v;
  std::vector<Rect> walls;
  std::vector<std::pair<std::string, Rect>> must, never;
  Pt start, end;
  if (!ReadInstance(inst, &walls, &must, &never, &start, &end)) {
    v.reason = "instance data is malformed";
    return v;
  }
  std::optional<std::string> text = AnswerOrLastList(answer);
  if (!text) {
    v.reason = "no <<<answer>>> or waypoint list found";
    return v;
  }
  v.source = LastTripleAngle(answer) ? AnswerSource::kTags : AnswerSource::kFallback;
  v.parsed = Truncate(TrimAscii(*text));
  if (text->size() > kMaxPlanAnswerBytes) {
    v.reason = "answer longer than 1 MiB";
    return v;
  }
  std::vector<Pt> pts;
  v.reason = ParseWaypoints(TrimAscii(*text), &pts);
  if (!v.reason.empty()) return v;
  auto same = [](Pt a, Pt b) {
    return std::fabs(a.x - b.x) <= 1e-9 && std::fabs(a.y - b.y) <= 1e-9;
  };
  if (pts.size() < 2) {
    v.reason = "fewer than 2 waypoints";
  } else if (!same(pts.front(), start)) {
    v.reason = "first waypoint is not the start " + PyFloat(start.x) + ", " + PyFloat(start.y);
  } else if (!same(pts.back(), end)) {
    v.reason = "last waypoint is not the end " + PyFloat(end.x) + ", " + PyFloat(end.y);
  }
  std::vector<bool> entered(must.size(), false);
  for (size_t i = 0; v.reason.empty() && i + 1 < pts.size(); ++i) {
    for (const Rect& w : walls) {
      if (SegmentTouchesRect(pts[i], pts[i + 1], w))
        v.reason = SegmentName(i, pts) + " touches a wall";
    }
    for (const auto& [colour, rect] : never) {
      if (v.reason.empty() && SegmentTouchesRect(pts[i], pts[i + 1], rect)) {
        v.reason = SegmentName(i, pts) + " enters the forbidden " + colour + " box";
      }
    }
    for (size_t k = 0; k < must.size(); ++k) {
      entered[k] = entered[k] || SegmentTouchesRect(pts[i], pts[i + 1], must[k].second);
    }
  }
  for (size_t k = 0; v.reason.empty() && k < must.size(); ++k) {
    if (!entered[k]) v.reason = "never enters the " + must[k].first + " box";
  }
  v.correct = v.reason.empty();
  v.score = v.correct ? 1.0 : 0.0;
  if (v.correct) v.reason = "ok";
  return v;
}

std::string PlanFor(const Json& walls, const Json& env, const Json& ins) {
  std::vector<Rect> blocked, must;
  for (const auto& w : walls) blocked.push_back(ToRect(w));
  for (const auto& c : ins["must_not_enter"])
    blocked.push_back(ToRect(env["boxes"][c.get<std::string>()]));
  for (const auto& c : ins["must_enter"])
    must.push_back(ToRect(env["boxes"][c.get<std::string>()]));
  auto line = PlanPolyline(blocked, must, ToPt(env["start"]), ToPt(env["end"]));
  return line ? RenderPolyline(*line) : "";
}

Prepared Prepare(const Json& walls, const Json& env, int64_t env_index, const Json& ins,
                 int64_t k) {
  Prepared p;
  // Instance::data is a plain (key-sorted) json; the prompt keeps the file's box order.
  p.data = nlohmann::json::parse(Json{
      {"env_index", env_index},
      {"instruction_index", k},
      {"instruction", ins["text"]},
      {"walls", walls},
      {"boxes", env["boxes"]},
      {"start", env["start"]},
      {"end", env["end"]},
      {"must_enter", ins["must_enter"]},
      {"must_not_enter",
       ins["must_not_enter"]}}.dump());
  p.prompt = Prompt(walls, env, ins["text"].get<std::string>());
  p.canonical = PlanFor(walls, env, ins);
  p.truth = "start " + PyTuple(env["start"]) + ", end " + PyTuple(env["end"]) + "; enter " +
            PyStrList(ins["must_enter"]) + "; never touch " + PyStrList(ins["must_not_enter"]) +
            " or a wall; e.g. " + p.canonical;
  return p;
}

Result<std::vector<Prepared>> LoadInstances(const Json& doc) {
  if (!doc.is_object() || !doc.contains("walls") || !doc["walls"].is_array() ||
      !doc.contains("environments") || !doc["environments"].is_array()) {
    return Status::Corruption("path_plan: environments.json lacks walls or environments");
  }
  const Json& walls = doc["walls"];
  for (const auto& w : walls) {
    if (!IsNumbers(w, 4)) return Status::Corruption("path_plan: malformed wall");
  }
  std::vector<Prepared> out;
  int64_t env_index = 0;
  for (const auto& env : doc["environments"]) {
    CS_RETURN_IF_ERROR(ValidateEnv(env, walls.size()));
    for (int64_t k = 0; k < kInstructions; ++k) {
      out.push_back(Prepare(walls, env, env_index, env["instructions"][k], k));
    }
    ++env_index;
  }
  if (out.empty()) return Status::Corruption("path_plan: no environments");
  return out;
}

std::string PathPlanTask::ReferenceSolution(const Instance& inst) const {
  const auto& d = inst.data;
  if (!d.is_object() || !d.contains("walls") || !d.contains("boxes"))
    return "print('malformed instance')\n";
  std::string walls = "[", boxes = "{";
  for (const auto& w : d["walls"])
    walls += (walls.size() > 1 ? ", " : "") + PyTuple(Json::parse(w.dump()));
  for (const auto& [colour, rect] : d["boxes"].items()) {
    boxes +=
        (boxes.size() > 1 ? ", \"" : "\"") + colour + "\": " + PyTuple(Json::parse(rect.dump()));
  }
  return std::string(kReferenceProgram) + "WALLS = " + walls + "]\nBOXES = " + boxes +
         "}\nSTART = " + PyTuple(Json::parse(d["start"].dump())) +
         "\nEND = " + PyTuple(Json::parse(d["end"].dump())) +
         "\nMUST_ENTER = " + d["must_enter"].dump() +
         "\nMUST_NOT_ENTER = " + d["must_not_enter"].dump() +
         "\nsolve(WALLS, BOXES, START, END, MUST_ENTER, MUST_NOT_ENTER)\n";
}

}  // namespace

Result<std::unique_ptr<Task>> MakePathPlanTask(const std::string& data_dir) {
  const std::string path = data_dir + "/path_plan/environments.json";
  std::ifstream f(path);
  if (!f) return Status::NotFound("path_plan: cannot open " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  if (JsonTooDeep(ss.str())) return Status::Corruption("path_plan: " + path + " nests too deeply");
  Json doc = Json::parse(ss.str(), nullptr, false);
  if (doc.is_discarded()) return Status::Corruption("path_plan: " + path + " is not valid JSON");
  CS_ASSIGN_OR_RETURN(std::vector<Prepared> instances, LoadInstances(doc));
  return std::unique_ptr<Task>(std::make_unique<PathPlanTask>(std::move(instances)));
}

}  // namespace codesweep
