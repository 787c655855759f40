// The paper's metrics; see report_metrics.h.
#include "report/metrics.h"

#include <algorithm>
#include <cmath>

namespace codesweep::metrics {

Interval Wilson(int64_t successes, int64_t n, double z) {
  if (n <= 0) return {0.0, 1.0};
  const double nn = static_cast<double>(n);
  const double p = static_cast<double>(successes) / nn;
  const double z2 = z * z;
  const double denom = 1.0 + z2 / nn;
  const double center = p + z2 / (2.0 * nn);
  const double half = z * std::sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn));
  return {std::max(0.0, (center - half) / denom), std::min(1.0, (center + half) / denom)};
}

std::map<std::string, double> AverageNormalizedScores(const TaskMethodScores& scores) {
  std::map<std::string, double> sum;
  std::map<std::string, int> count;
  for (const auto& [task, by_method] : scores) {
    double best = 0;
    for (const auto& [method, s] : by_method) best = std::max(best, s);
    if (best <= 0) continue;
    for (const auto& [method, s] : by_method) {
      sum[method] += s / best;
      ++count[method];
    }
  }
  std::map<std::string, double> out;
  for (const auto& [method, total] : sum) out[method] = 100.0 * total / count[method];
  return out;
}

std::map<std::string, int> Ranks(const std::map<std::string, double>& scores, int decimals) {
  auto key = [decimals](double v) {
    if (decimals < 0) return v;
    const double scale = std::pow(10.0, decimals);
    return std::round(v * scale) / scale;
  };
  std::map<std::string, int> out;
  for (const auto& [method, s] : scores) {
    int higher = 0;
    for (const auto& [other, t] : scores) higher += key(t) > key(s) ? 1 : 0;
    out[method] = 1 + higher;
  }
  return out;
}

std::map<std::string, MethodSummary> Summarize(
    const std::vector<std::string>& methods,
    const std::vector<std::map<std::string, double>>& per_model, int rank_decimals) {
  std::map<std::string, MethodSummary> out;
  std::map<std::string, double> score_sum, rank_sum;
  for (const auto& scores : per_model) {
    const std::map<std::string, int> ranks = Ranks(scores, rank_decimals);
    const int tested = static_cast<int>(scores.size());
    for (const std::string& m : methods) {
      auto it = scores.find(m);
      if (it == scores.end()) {
        rank_sum[m] += tested + 1;
        continue;
      }
      score_sum[m] += it->second;
      rank_sum[m] += ranks.at(m);
      ++out[m].models_run;
    }
  }
  for (const std::string& m : methods) {
    MethodSummary& s = out[m];
    if (s.models_run > 0) s.avg_score = score_sum[m] / s.models_run;
    s.avg_rank = per_model.empty() ? 0 : rank_sum[m] / static_cast<double>(per_model.size());
  }
  return out;
}

}  // namespace codesweep::metrics
