// 2-D geometry for path_plan: closed-rectangle touching tests and a visibility-graph planner
// (the C++ twin of the reference Python planner). Pure functions over values; thread-safe.
#pragma once

#include <array>
#include <optional>
#include <vector>

namespace codesweep {

struct Pt {
  double x = 0;
  double y = 0;
};
// [x_min, x_max, y_min, y_max], as in data/path_plan/environments.json.
using Rect = std::array<double, 4>;

// True if segment p-q meets the closed rectangle `r` grown by `pad` on every side (touching
// counts). p == q tests a point. Same arithmetic as the reference Python planner's touches().
bool SegmentTouchesRect(Pt p, Pt q, const Rect& r, double pad = 0.0);

// A shortest polyline over a visibility graph (obstacle corners offset by a 0.01 margin, plus
// up to 9 points inside each required rectangle) from `start` to `end` that enters every
// rectangle of `must_enter` and touches none of `blocked`. nullopt if the graph has none.
std::optional<std::vector<Pt>> PlanPolyline(const std::vector<Rect>& blocked,
                                            const std::vector<Rect>& must_enter, Pt start, Pt end);

}  // namespace codesweep
