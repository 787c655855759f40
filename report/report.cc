// Report computation; see report.h.
#include "report/report.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <tuple>

#include "report/metrics.h"

namespace codesweep {

namespace {

// Appends `value` to `order` the first time it is seen.
void Remember(std::vector<std::string>& order, std::set<std::string>& seen,
              const std::string& value) {
  if (seen.insert(value).second) order.push_back(value);
}

struct Sums {
  int64_t n = 0, correct = 0, code_used = 0, tokens = 0, wall_ms = 0, order = 0;
  double score_sum = 0, cost_usd = 0;
  void Add(const GrainRow& g) {
    if (n == 0 || g.complexity_order < order) order = g.complexity_order;
    n += g.n;
    correct += g.correct;
    code_used += g.code_used;
    tokens += g.tokens_in + g.tokens_out;
    wall_ms += g.wall_ms;
    score_sum += g.score_sum;
    cost_usd += g.cost_usd;
  }
};

using Key3 = std::tuple<std::string, std::string, std::string>;
using Key4 = std::tuple<std::string, std::string, std::string, std::string>;

struct Grouped {
  std::vector<std::string> models, methods, tasks;
  std::map<std::string, int> turns_of;  // method label -> turns: a setting is (model, turns)
  std::map<Key3, Sums> by_task;         // (model, task, method)
  std::map<Key4, Sums> by_complexity;   // (model, task, method, complexity)
  std::map<std::pair<std::string, std::string>, Sums> by_method;  // (model, method)
  std::map<std::string, std::set<std::string>> levels;            // task -> complexities
  int64_t cells = 0;
};

Grouped Group(const std::vector<const GrainRow*>& rows) {
  Grouped g;
  std::set<std::string> seen_models, seen_methods, seen_tasks;
  for (const GrainRow* r : rows) {
    const std::string method = MethodLabel(r->method, r->turns);
    Remember(g.models, seen_models, r->model);
    Remember(g.methods, seen_methods, method);
    Remember(g.tasks, seen_tasks, r->task);
    g.turns_of[method] = r->turns;
    g.by_task[{r->model, r->task, method}].Add(*r);
    g.by_complexity[{r->model, r->task, method, r->complexity}].Add(*r);
    g.by_method[{r->model, method}].Add(*r);
    g.levels[r->task].insert(r->complexity);
    g.cells += r->n;
  }
  return g;
}

double Pct(double part, int64_t n) { return n > 0 ? 100.0 * part / static_cast<double>(n) : 0.0; }

ModelTable BuildModelTable(const Grouped& g, const std::string& model) {
  ModelTable t;
  t.model = model;
  metrics::TaskMethodScores scores;
  for (const std::string& task : g.tasks) {
    bool any = false, partial = false;
    for (const std::string& method : g.methods) {
      auto it = g.by_task.find({model, task, method});
      if (it == g.by_task.end()) continue;
      const Sums& s = it->second;
      metrics::Interval ci = metrics::Wilson(s.correct, s.n);
      TaskMethodCell cell{s.n,           s.correct,     Pct(static_cast<double>(s.correct), s.n),
                          100.0 * ci.lo, 100.0 * ci.hi, Pct(s.score_sum, s.n)};
      partial = partial || std::fabs(s.score_sum - static_cast<double>(s.correct)) > 1e-9;
      scores[task][method] = cell.success_pct;
      t.cells[task][method] = cell;
      any = true;
    }
    if (any) t.tasks.push_back(task);
    if (partial) t.partial_tasks.push_back(task);
  }
  // The paper's normalization and ranks compare methods within one setting (model, turns).
  std::map<int, metrics::TaskMethodScores> by_turns;
  for (const auto& [task, methods] : scores) {
    for (const auto& [method, pct] : methods) by_turns[g.turns_of.at(method)][task][method] = pct;
  }
  for (const auto& [turns, setting] : by_turns) {
    std::map<std::string, double> norm = metrics::AverageNormalizedScores(setting);
    for (const auto& [method, rank] : metrics::Ranks(norm)) t.rank[method] = rank;
    t.avg_norm.merge(norm);
  }
  return t;
}

// Table 2 per turns: a method's average rank counts only the models run at its turns.
std::map<std::string, metrics::MethodSummary> SummarizeBySetting(const Grouped& g,
                                                                 const SweepReport& r) {
  std::map<int, std::vector<std::string>> methods_at;
  for (const std::string& method : g.methods) methods_at[g.turns_of.at(method)].push_back(method);
  std::map<std::string, metrics::MethodSummary> out;
  for (const auto& [turns, methods] : methods_at) {
    std::vector<std::map<std::string, double>> per_model;
    for (const ModelTable& t : r.table1) {
      std::map<std::string, double> setting;
      for (const auto& [method, pct] : t.avg_norm) {
        if (g.turns_of.at(method) == turns) setting[method] = pct;
      }
      if (!setting.empty()) per_model.push_back(std::move(setting));
    }
    out.merge(metrics::Summarize(methods, per_model));
  }
  return out;
}

void AddComplexity(const Grouped& g, SweepReport& r) {
  for (const auto& [key, s] : g.by_complexity) {
    const auto& [model, task, method, complexity] = key;
    if (g.levels.at(task).size() < 2) continue;
    const metrics::Interval ci = metrics::Wilson(s.correct, s.n);
    r.complexity.push_back(
        {model, task, method, complexity, s.order, s.n, Pct(static_cast<double>(s.correct), s.n),
         Pct(static_cast<double>(s.code_used), s.n), 100.0 * ci.lo, 100.0 * ci.hi});
  }
  std::sort(r.complexity.begin(), r.complexity.end(),
            [](const ComplexityPoint& a, const ComplexityPoint& b) {
              return std::tie(a.model, a.task, a.method, a.order) <
                     std::tie(b.model, b.task, b.method, b.order);
            });
}

void AddCosts(const Grouped& g, const std::vector<ModelCostRow>& model_cost, SweepReport& r) {
  for (const std::string& model : g.models) {
    const ModelTable* table = nullptr;
    for (const ModelTable& t : r.table1) table = t.model == model ? &t : table;
    for (const std::string& method : g.methods) {
      auto it = g.by_method.find({model, method});
      if (it == g.by_method.end()) continue;
      const Sums& s = it->second;
      const double n = static_cast<double>(s.n);
      MethodCost c{model,
                   method,
                   s.n,
                   static_cast<double>(s.tokens) / n,
                   static_cast<double>(s.wall_ms) / 1000.0 / n,
                   s.cost_usd / n,
                   s.cost_usd,
                   {}};
      if (table != nullptr && table->avg_norm.count(method))
        c.avg_norm_pct = table->avg_norm.at(method);
      r.method_cost.push_back(c);
    }
  }
  r.total.sweep = r.sweep;
  r.total.model = "total";
  for (const ModelCostRow& m : model_cost) {
    if (m.sweep != r.sweep) continue;
    r.model_cost.push_back(m);
    r.total.calls += m.calls;
    r.total.cached += m.cached;
    r.total.errors += m.errors;
    r.total.tokens_in += m.tokens_in;
    r.total.tokens_out += m.tokens_out;
    r.total.cost_usd += m.cost_usd;
    r.total.rate_limited += m.rate_limited;
    r.total.retries += m.retries;
    r.total.replayed_tokens_in += m.replayed_tokens_in;
    r.total.replayed_tokens_out += m.replayed_tokens_out;
  }
}

SweepReport BuildOne(const std::string& sweep, const std::vector<const GrainRow*>& rows,
                     const std::vector<ModelCostRow>& model_cost) {
  Grouped g = Group(rows);
  SweepReport r;
  r.sweep = sweep;
  r.cells = g.cells;
  r.models = g.models;
  r.methods = g.methods;
  r.tasks = g.tasks;
  for (const std::string& model : g.models) r.table1.push_back(BuildModelTable(g, model));
  std::map<std::string, metrics::MethodSummary> summary = SummarizeBySetting(g, r);
  for (const std::string& method : g.methods) {
    const metrics::MethodSummary& s = summary[method];
    r.table2.push_back({method, s.avg_score, s.avg_rank, s.models_run});
  }
  AddComplexity(g, r);
  AddCosts(g, model_cost, r);
  return r;
}

}  // namespace

std::string DisplayModel(const std::string& model) {
  return model.rfind("sim:", 0) == 0 ? model + " (simulated)" : model;
}

std::string MethodLabel(const std::string& method, int turns) {
  return turns == 1 ? method : method + "@T" + std::to_string(turns);
}

std::vector<SweepReport> BuildReports(const std::vector<GrainRow>& grain,
                                      const std::vector<ModelCostRow>& model_cost,
                                      const std::vector<JobStateRow>& job_states) {
  std::vector<std::string> sweeps;
  std::set<std::string> seen;
  std::map<std::string, std::vector<const GrainRow*>> rows;
  for (const GrainRow& g : grain) {
    Remember(sweeps, seen, g.sweep);
    rows[g.sweep].push_back(&g);
  }
  std::map<std::string, std::vector<JobStateRow>> excluded;
  for (const JobStateRow& j : job_states) {
    if (j.failed + j.dead == 0) continue;
    Remember(sweeps, seen, j.sweep);
    excluded[j.sweep].push_back(j);
  }
  std::vector<SweepReport> out;
  for (const std::string& sweep : sweeps) {
    out.push_back(BuildOne(sweep, rows[sweep], model_cost));
    out.back().excluded = std::move(excluded[sweep]);
  }
  return out;
}

}  // namespace codesweep
