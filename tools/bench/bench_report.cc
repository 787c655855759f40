// bench_report: fills a database with N finished cells through the Store API (6 models x 10
// methods x 14 tasks x complexity levels x samples, each with one call) and times the report:
// opening read-only, the grain and model-cost queries, building, and rendering md/csv/json/html.
//   bench_report [--cells N] [--db FILE] [--keep]   (default 1,000,000 cells in a temp file)
// Prints one line per phase; numbers go to BENCHMARKS.md.
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "base/hash.h"
#include "coordinator/store/report_queries.h"
#include "coordinator/store/store.h"
#include "report/format.h"
#include "report/html.h"
#include "report/report.h"

namespace codesweep {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// CPU seconds of this process so far (user + system): the shared machine's load shows in the
// wall time, not here.
double CpuSeconds() {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Grid {
  std::vector<std::string> models = {"openai:gpt-4o",     "openai:gpt-4o-mini", "openai:gpt-3.5",
                                     "openai:o1-preview", "anthropic:claude",   "mistral:mixtral"};
  std::vector<std::string> methods = {
      "only_question", "all_text",       "all_code",         "all_code_cot",
      "autogen_conca", "autogen_system", "code_interpreter", "code_interpreter_plus",
      "code_text_sum", "self_estimate"};
  int tasks = 14, levels = 4;
};

Outcome MakeOutcome(uint64_t h) {
  Outcome o;
  o.correct = h % 100 < 60;
  o.score = o.correct ? 1.0 : 0.0;
  o.final_answer = o.correct ? "42" : "41";
  o.passed_by = o.correct ? "reply" : "";
  o.verdict_reason = o.correct ? "answer matches" : "wrong answer";
  o.code_used = (h >> 8) % 2 == 0;
  o.code_ok = o.code_used;
  o.turns_used = 1;
  o.tokens_in = 300 + static_cast<int64_t>(h % 500);
  o.tokens_out = 100 + static_cast<int64_t>((h >> 16) % 400);
  o.wall_ms = 1000 + static_cast<int64_t>(h % 9000);
  o.cost_usd = 1e-6 * static_cast<double>(o.tokens_in + 3 * o.tokens_out);
  CallRecord c;
  c.call_key = "k";
  c.request_json = R"({"messages":[{"role":"user","content":"q"}]})";
  c.response_json = R"({"content":"a"})";
  c.tokens_in = o.tokens_in;
  c.tokens_out = o.tokens_out;
  c.http_status = 200;
  c.attempts = (h >> 24) % 50 == 0 ? 2 : 1;
  c.rate_limited = c.attempts - 1;
  c.cost_usd = o.cost_usd;
  o.calls.push_back(c);
  return o;
}

Status CompleteAll(Store& store) {
  const int64_t now = 1'000'000;
  while (true) {
    CS_ASSIGN_OR_RETURN(std::vector<JobRow> page, store.FetchPending(now, JobId(0), 5000));
    if (page.empty()) return Status::OK();
    for (const JobRow& j : page) {
      CS_ASSIGN_OR_RETURN(LeaseToken lease, store.LeaseJob(j.job, "bench", now + 60'000));
      uint64_t h = Sha256U64(j.cell.value());
      CS_RETURN_IF_ERROR(store.CompleteJob(j.job, lease, MakeOutcome(h), now, now).status());
    }
    CS_RETURN_IF_ERROR(store.Commit());
  }
}

Status Fill(const std::string& path, int64_t cells) {
  StoreOptions options;
  options.synchronous_full = false;
  CS_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(path, options));
  SweepRecord sweep;
  sweep.name = "bench";
  CS_ASSIGN_OR_RETURN(int64_t sweep_id, store->UpsertSweep(sweep));
  Grid g;
  const int64_t per_sample =
      static_cast<int64_t>(g.models.size() * g.methods.size()) * g.tasks * g.levels;
  const int64_t samples = (cells + per_sample - 1) / per_sample;
  for (const std::string& model : g.models) {
    VariantRecord v;
    v.model.id = model;
    v.model.provider = model.substr(0, model.find(':'));
    v.model.name = model.substr(model.find(':') + 1);
    CS_ASSIGN_OR_RETURN(int64_t variant, store->UpsertVariant(v));
    std::vector<CellRow> rows;
    for (int t = 0; t < g.tasks; ++t) {
      for (int l = 0; l < g.levels; ++l) {
        for (int64_t s = 0; s < samples; ++s) {
          for (const std::string& m : g.methods) {
            std::string task = "task" + std::to_string(t), level = std::to_string(l + 1);
            std::string key =
                Sha256Hex(model + "|" + task + "|" + level + "|" + std::to_string(s) + "|" + m);
            rows.push_back({CellKey(key), task, level, s, variant, m, 1});
          }
        }
      }
    }
    CS_RETURN_IF_ERROR(store->InsertCells(sweep_id, rows).status());
    CS_RETURN_IF_ERROR(store->Commit());
    CS_RETURN_IF_ERROR(CompleteAll(*store));
  }
  return Status::OK();
}

Status TimeReport(const std::string& path) {
  auto t0 = Clock::now();
  const double cpu0 = CpuSeconds();
  CS_ASSIGN_OR_RETURN(std::unique_ptr<ReportDb> db, ReportDb::Open(path));
  auto t1 = Clock::now();
  CS_ASSIGN_OR_RETURN(std::vector<GrainRow> grain, db->Grain(""));
  std::printf("grain query (v_report_grain): %.3f s, %zu rows\n", Seconds(t1), grain.size());
  auto t2 = Clock::now();
  CS_ASSIGN_OR_RETURN(std::vector<ModelCostRow> cost, db->ModelCost(""));
  std::printf("model cost query (v_model_cost): %.3f s\n", Seconds(t2));
  auto t3 = Clock::now();
  std::vector<SweepReport> reports = BuildReports(grain, cost);
  std::string md = FormatMarkdown(reports), csv = FormatCsv(reports), js = FormatJson(reports);
  std::printf("build + md/csv/json: %.3f s (%zu/%zu/%zu bytes)\n", Seconds(t3), md.size(),
              csv.size(), js.size());
  auto t4 = Clock::now();
  CS_ASSIGN_OR_RETURN(HtmlAssets assets, LoadHtmlAssets(DefaultReportAssetsDir()));
  std::string html = RenderHtml(reports, assets, "bench");
  std::printf("html: %.3f s (%zu bytes)\n", Seconds(t4), html.size());
  std::printf("TOTAL report: %.3f s wall, %.3f s CPU (open %.3f s)\n", Seconds(t0),
              CpuSeconds() - cpu0, std::chrono::duration<double>(t1 - t0).count());
  for (const char* view : {"v_task_success", "v_method_summary", "v_complexity", "v_method_cost"}) {
    auto t = Clock::now();
    CS_ASSIGN_OR_RETURN(QueryTable rows, db->Query(std::string("SELECT * FROM ") + view));
    std::printf("  sqlite3 users: SELECT * FROM %s: %.3f s, %zu rows\n", view, Seconds(t),
                rows.rows.size());
  }
  return Status::OK();
}

int Main(int argc, char** argv) {
  int64_t cells = 1'000'000;
  std::string path;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--cells") && i + 1 < argc)
      cells = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--db") && i + 1 < argc)
      path = argv[++i];
    else if (!std::strcmp(argv[i], "--keep"))
      keep = true;
  }
  std::string dir;
  if (path.empty()) {
    char tmpl[] = "/tmp/bench_report_XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 1;
    dir = tmpl;
    path = dir + "/bench.db";
  }
  if (!std::filesystem::exists(path)) {
    auto t = Clock::now();
    Status s = Fill(path, cells);
    if (!s.ok()) {
      std::fprintf(stderr, "fill: %s\n", s.message().c_str());
      return 1;
    }
    std::printf("filled %s: %.1f s\n", path.c_str(), Seconds(t));
  }
  Status s = TimeReport(path);
  if (!s.ok()) std::fprintf(stderr, "report: %s\n", s.message().c_str());
  if (!keep && !dir.empty()) std::filesystem::remove_all(dir);
  return s.ok() ? 0 : 1;
}

}  // namespace
}  // namespace codesweep

int main(int argc, char** argv) { return codesweep::Main(argc, argv); }
