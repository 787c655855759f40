#include "jobs/tasks/plan_geometry.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace codesweep {
namespace {

constexpr double kMargin = 0.01;
constexpr double kInf = std::numeric_limits<double>::infinity();

struct Graph {
  std::vector<Pt> nodes;                  // 0 = start, 1 = end
  std::vector<std::vector<int>> goals;    // per required rectangle: node ids inside it
  std::vector<std::vector<double>> dist;  // edge lengths, kInf where not visible
};

bool Clear(const std::vector<Rect>& blocked, Pt p, Pt q, double pad) {
  for (const Rect& r : blocked) {
    if (SegmentTouchesRect(p, q, r, pad)) return false;
  }
  return true;
}

Graph Build(const std::vector<Rect>& blocked, const std::vector<Rect>& must, Pt start, Pt end) {
  Graph g;
  g.nodes = {start, end};
  for (const Rect& r : blocked) {
    for (double x : {r[0] - kMargin, r[1] + kMargin}) {
      for (double y : {r[2] - kMargin, r[3] + kMargin}) {
        if (Clear(blocked, {x, y}, {x, y}, kMargin / 2)) g.nodes.push_back({x, y});
      }
    }
  }
  for (const Rect& r : must) {
    auto samples = [](double lo, double hi) {
      return hi - lo > 2 * kMargin ? std::vector<double>{lo + kMargin, (lo + hi) / 2, hi - kMargin}
                                   : std::vector<double>{(lo + hi) / 2};
    };
    g.goals.emplace_back();
    for (double x : samples(r[0], r[1])) {
      for (double y : samples(r[2], r[3])) {
        if (!Clear(blocked, {x, y}, {x, y}, kMargin / 2)) continue;
        g.goals.back().push_back(static_cast<int>(g.nodes.size()));
        g.nodes.push_back({x, y});
      }
    }
  }
  size_t n = g.nodes.size();
  g.dist.assign(n, std::vector<double>(n, kInf));
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      if (!Clear(blocked, g.nodes[i], g.nodes[j], i < 2 ? 0.0 : kMargin / 2)) continue;
      g.dist[i][j] = g.dist[j][i] =
          std::hypot(g.nodes[i].x - g.nodes[j].x, g.nodes[i].y - g.nodes[j].y);
    }
  }
  return g;
}

// Dense Dijkstra from `src`: distances and predecessors.
void ShortestPaths(const Graph& g, int src, std::vector<double>* d, std::vector<int>* prev) {
  size_t n = g.nodes.size();
  d->assign(n, kInf);
  prev->assign(n, -1);
  std::vector<bool> done(n, false);
  (*d)[src] = 0;
  for (size_t it = 0; it < n; ++it) {
    int u = -1;
    for (size_t v = 0; v < n; ++v) {
      if (!done[v] && (*d)[v] < kInf && (u < 0 || (*d)[v] < (*d)[u])) u = static_cast<int>(v);
    }
    if (u < 0) break;
    done[u] = true;
    for (size_t v = 0; v < n; ++v) {
      if (g.dist[u][v] < kInf && (*d)[u] + g.dist[u][v] < (*d)[v]) {
        (*d)[v] = (*d)[u] + g.dist[u][v];
        (*prev)[v] = u;
      }
    }
  }
}

}  // namespace

bool SegmentTouchesRect(Pt p, Pt q, const Rect& r, double pad) {
  double t0 = 0.0, t1 = 1.0;
  const double s[2] = {p.x, p.y}, e[2] = {q.x, q.y};
  const double lo[2] = {r[0] - pad, r[2] - pad}, hi[2] = {r[1] + pad, r[3] + pad};
  for (int axis = 0; axis < 2; ++axis) {
    double d = e[axis] - s[axis];
    if (d == 0) {
      if (s[axis] < lo[axis] || s[axis] > hi[axis]) return false;
      continue;
    }
    double a = (lo[axis] - s[axis]) / d, b = (hi[axis] - s[axis]) / d;
    if (a > b) std::swap(a, b);
    t0 = std::max(t0, a);
    t1 = std::min(t1, b);
    if (t0 > t1) return false;
  }
  return true;
}

std::optional<std::vector<Pt>> PlanPolyline(const std::vector<Rect>& blocked,
                                            const std::vector<Rect>& must_enter, Pt start, Pt end) {
  Graph g = Build(blocked, must_enter, start, end);
  for (const auto& goals : g.goals) {
    if (goals.empty()) return std::nullopt;
  }
  size_t n = g.nodes.size();
  std::vector<std::vector<double>> d(n);
  std::vector<std::vector<int>> prev(n);
  // Node sequence through one goal per rectangle, best over every visiting order.
  std::vector<int> order(must_enter.size()), best_seq;
  std::iota(order.begin(), order.end(), 0);
  double best = kInf;
  auto tree = [&](int u) -> const std::vector<double>& {
    if (d[u].empty()) ShortestPaths(g, u, &d[u], &prev[u]);
    return d[u];
  };
  do {
    std::vector<std::pair<double, std::vector<int>>> layer = {{0.0, {0}}};
    for (int k : order) {
      std::vector<std::pair<double, std::vector<int>>> next;
      for (int goal : g.goals[k]) {
        std::pair<double, std::vector<int>> cand{kInf, {}};
        for (const auto& [cost, seq] : layer) {
          double c = cost + tree(seq.back())[goal];
          if (c < cand.first) cand = {c, seq};
        }
        if (cand.first == kInf) continue;
        cand.second.push_back(goal);
        next.push_back(std::move(cand));
      }
      layer = std::move(next);
    }
    for (const auto& [cost, seq] : layer) {
      double c = cost + tree(seq.back())[1];
      if (c < best) best = c, best_seq = seq, best_seq.push_back(1);
    }
  } while (std::next_permutation(order.begin(), order.end()));
  if (best_seq.empty()) return std::nullopt;
  std::vector<Pt> out = {start};
  for (size_t i = 0; i + 1 < best_seq.size(); ++i) {
    tree(best_seq[i]);
    std::vector<int> leg;
    for (int v = best_seq[i + 1]; v != best_seq[i]; v = prev[best_seq[i]][v]) leg.push_back(v);
    for (auto it = leg.rbegin(); it != leg.rend(); ++it) {
      const Pt& p = g.nodes[*it];
      if (p.x != out.back().x || p.y != out.back().y) out.push_back(p);
    }
  }
  if (out.size() == 1) out.push_back(end);
  return out;
}

}  // namespace codesweep
