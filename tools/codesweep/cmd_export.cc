// `codesweep export [SWEEP.toml] [--db FILE] --format jsonl|csv [--transcript] [-o FILE]`: one
// record per cell (its place in the grid, state, the model's answer beside the expected one,
// the verdict, tokens and cost; with --transcript every call and execution). Every string is
// valid UTF-8 (invalid bytes become U+FFFD) and CSV fields are quoted by RFC 4180, so hostile
// model text cannot break a record. Read-only and streaming: memory stays flat.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "base/utf8.h"
#include "coordinator/store/report_queries.h"
#include "tools/codesweep/cli_common.h"
#include "tools/codesweep/commands.h"

namespace codesweep {

namespace {

using nlohmann::json;

struct ExportFlags {
  ReadDb target;
  std::string sweep;
  ReadFilter filter;
  std::string format = "jsonl";
  std::string output;
  bool transcript = false;
};

constexpr const char* kColumns[] = {
    "job_id",         "cell_key",   "sweep",    "task",         "complexity", "sample",
    "model",          "method",     "turns",    "state",        "attempts",   "last_error",
    "has_verdict",    "correct",    "score",    "final_answer", "target",     "passed_by",
    "verdict_reason", "code_used",  "code_ok",  "turns_used",   "calls",      "executions",
    "tokens_in",      "tokens_out", "cost_usd", "wall_ms",      "finished_ms"};

json CellJson(const ExportRow& e) {
  json j = json::object();
  j["job_id"] = e.job_id;
  j["cell_key"] = e.cell_key;
  j["sweep"] = e.sweep;
  j["task"] = e.task;
  j["complexity"] = e.complexity;
  j["sample"] = e.sample;
  j["model"] = e.model;
  j["method"] = e.method;
  j["turns"] = e.turns;
  j["state"] = e.state;
  j["attempts"] = e.attempts;
  j["last_error"] = e.last_error;
  j["has_verdict"] = e.has_result;
  j["correct"] = e.correct;
  j["score"] = e.score;
  j["final_answer"] = e.final_answer;
  j["target"] = e.target;
  j["passed_by"] = e.passed_by;
  j["verdict_reason"] = e.verdict_reason;
  j["code_used"] = e.code_used;
  j["code_ok"] = e.code_ok;
  j["turns_used"] = e.turns_used;
  j["calls"] = e.calls;
  j["executions"] = e.executions;
  j["tokens_in"] = e.tokens_in;
  j["tokens_out"] = e.tokens_out;
  j["cost_usd"] = e.cost_usd;
  j["wall_ms"] = e.wall_ms;
  j["finished_ms"] = e.finished_ms;
  return j;
}

// A stored JSON text as a value (a string when it does not parse).
json Parsed(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  return j.is_discarded() ? json(text) : j;
}

// Every call and execution of the cell, in order (all attempts; `lease` tells them apart).
Result<json> TranscriptJson(ReportDb& db, int64_t job_id) {
  CS_ASSIGN_OR_RETURN(Trajectory t, db.LoadTrajectory(job_id));
  json calls = json::array();
  for (const TrajectoryCall& c : t.calls) {
    calls.push_back({{"lease", c.lease},
                     {"index", c.index},
                     {"turn", c.turn},
                     {"request", Parsed(c.request_json)},
                     {"response", Parsed(c.response_json)},
                     {"error", c.error},
                     {"cached", c.cached}});
  }
  json execs = json::array();
  for (const TrajectoryExecution& e : t.executions) {
    execs.push_back({{"lease", e.lease},
                     {"index", e.index},
                     {"turn", e.turn},
                     {"code", e.code},
                     {"status", e.status},
                     {"exit_code", e.exit_code},
                     {"stdout", e.stdout_text},
                     {"stderr", e.stderr_text},
                     {"wall_ms", e.wall_ms},
                     {"cpu_ms", e.cpu_ms}});
  }
  return json{{"calls", calls}, {"executions", execs}};
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// One CSV field: valid UTF-8, quoted (quotes doubled) when it holds a comma, quote or line break.
std::string CsvField(const json& v) {
  std::string s = v.is_string() ? ValidUtf8(v.get<std::string>()) : Dump(v);
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

class Writer {
 public:
  Writer(FILE* out, bool csv, bool transcript) : out_(out), csv_(csv), transcript_(transcript) {}
  // The CSV header (nothing for jsonl).
  Status Header() {
    if (!csv_) return Status::OK();
    std::string header;
    for (const char* c : kColumns) header += std::string(header.empty() ? "" : ",") + c;
    if (transcript_) header += ",transcript";
    return Line(header);
  }
  Status Write(const json& cell) {
    if (!csv_) return Line(Dump(cell));
    std::string line;
    for (const char* c : kColumns) line += (line.empty() ? "" : ",") + CsvField(cell[c]);
    if (transcript_) line += "," + CsvField(json(Dump(cell["transcript"])));
    return Line(line);
  }

 private:
  Status Line(const std::string& text) {
    const std::string line = text + (csv_ ? "\r\n" : "\n");
    if (std::fwrite(line.data(), 1, line.size(), out_) != line.size()) {
      return Status::IoError("cannot write the export");
    }
    return Status::OK();
  }
  FILE* out_;
  bool csv_, transcript_;
};

int RunExport(const ExportFlags& f) {
  Result<std::string> path = ResolveReadDb(f.target);
  if (!path.ok()) return PrintError("export", path.status());
  Result<std::unique_ptr<ReportDb>> db = ReportDb::Open(*path);
  if (!db.ok()) return PrintError("export", db.status());
  FILE* out = stdout;
  if (!f.output.empty()) {
    out = std::fopen(f.output.c_str(), "wb");
    if (out == nullptr) {
      return PrintError("export", Status::IoError("cannot write " + f.output));
    }
  }
  Writer writer(out, f.format == "csv", f.transcript);
  int64_t cells = 0;
  Status s = writer.Header();
  if (s.ok())
    s = (*db)->ForEachCell(f.sweep, f.filter, [&](const ExportRow& row) -> Status {
      json cell = CellJson(row);
      if (f.transcript) {
        CS_ASSIGN_OR_RETURN(cell["transcript"], TranscriptJson(**db, row.job_id));
      }
      ++cells;
      return writer.Write(cell);
    });
  if (out != stdout && std::fclose(out) != 0 && s.ok()) {
    s = Status::IoError("cannot write " + f.output);
  }
  if (!s.ok()) return PrintError("export", s);
  if (!f.output.empty()) {
    std::fprintf(stderr, "exported %lld cells to %s\n", static_cast<long long>(cells),
                 f.output.c_str());
  }
  return 0;
}

}  // namespace

CommandAction SetupExportCommand(CLI::App& sub) {
  auto flags = std::make_shared<ExportFlags>();
  AddReadDbOptions(sub, &flags->target);
  sub.add_option("--sweep", flags->sweep, "Only this sweep (default: every sweep)");
  AddReadFilterOptions(sub, &flags->filter);
  sub.add_option("--format", flags->format, "jsonl (one JSON object per line) or csv")
      ->check(CLI::IsMember({"jsonl", "csv"}))
      ->capture_default_str();
  sub.add_flag("--transcript", flags->transcript,
               "Add every call (request and response) and execution of the cell");
  sub.add_option("-o,--output", flags->output, "Write here instead of stdout");
  return [flags] { return RunExport(*flags); };
}

}  // namespace codesweep
