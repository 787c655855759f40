// `codesweep show` text; see show.h.
#include "report/show.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/utf8.h"

namespace codesweep {

namespace {

using nlohmann::json;

std::string Clip(const std::string& s, const ShowOptions& o) {
  if (o.max_field_chars == 0 || s.size() <= o.max_field_chars) return s;
  const size_t keep = Utf8CutPoint(s, o.max_field_chars);
  return s.substr(0, keep) + "\n... [" + std::to_string(s.size() - keep) + " more bytes]";
}

void Block(std::ostringstream& out, const std::string& label, const std::string& text,
           const ShowOptions& o) {
  out << "--- " << label << " ---\n" << Clip(text, o);
  if (text.empty() || text.back() != '\n') out << "\n";
}

// Messages of a request JSON ({"messages": [{"role", "content"}...]}); empty if unparsable.
json Messages(const std::string& request_json) {
  json req = json::parse(request_json, nullptr, false);
  if (req.is_discarded() || !req.is_object() || !req.contains("messages") ||
      !req["messages"].is_array()) {
    return json::array();
  }
  return req["messages"];
}

std::string StringField(const json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_string()) return "";
  return obj[key].get<std::string>();
}

void PrintCall(std::ostringstream& out, const TrajectoryCall& c, size_t& shown,
               const ShowOptions& o) {
  json messages = Messages(c.request_json);
  if (messages.size() < shown) shown = 0;  // a new conversation (e.g. the summarizer)
  for (size_t i = shown; i < messages.size(); ++i) {
    Block(out, "prompt (" + StringField(messages[i], "role") + ")",
          StringField(messages[i], "content"), o);
  }
  if (messages.empty() && !c.request_json.empty()) Block(out, "request", c.request_json, o);
  char meta[200];
  std::snprintf(meta, sizeof meta, "tokens %lld+%lld, %lld ms, http %d, attempts %d, 429s %d%s",
                static_cast<long long>(c.tokens_in), static_cast<long long>(c.tokens_out),
                static_cast<long long>(c.latency_ms), c.http_status, c.attempts, c.rate_limited,
                c.cached ? ", cached" : "");
  out << "call " << c.index << " (turn " << c.turn << "): " << meta << "\n";
  if (!c.error.empty()) out << "call error: " << c.error << "\n";
  json resp = json::parse(c.response_json, nullptr, false);
  std::string reply = resp.is_discarded() ? c.response_json : StringField(resp, "content");
  if (!resp.is_discarded() && resp.is_object() && resp.contains("tool_calls") &&
      resp["tool_calls"].is_array() && !resp["tool_calls"].empty()) {
    reply +=
        "\n[tool calls] " + resp["tool_calls"].dump(-1, ' ', false, json::error_handler_t::replace);
  }
  Block(out, "reply", reply, o);
  shown = messages.size() + 1;  // the reply comes back as the next request's assistant message
}

void PrintExecution(std::ostringstream& out, const TrajectoryExecution& e, const ShowOptions& o) {
  char meta[200];
  std::snprintf(meta, sizeof meta, "status %s, exit %d, signal %d, %lld ms, tier %s",
                e.status.c_str(), e.exit_code, e.signal, static_cast<long long>(e.wall_ms),
                e.tier.c_str());
  Block(out,
        "code (execution " + std::to_string(e.index) + ", turn " + std::to_string(e.turn) + ")",
        e.code, o);
  out << "execution " << e.index << ": " << meta << "\n";
  if (!e.stdout_text.empty()) {
    Block(out, e.stdout_truncated ? "stdout (truncated)" : "stdout", e.stdout_text, o);
  }
  if (!e.stderr_text.empty()) {
    Block(out, e.stderr_truncated ? "stderr (truncated)" : "stderr", e.stderr_text, o);
  }
}

void PrintAttempt(std::ostringstream& out, const Trajectory& t, int64_t lease,
                  const ShowOptions& o) {
  // Calls and executions of one attempt, merged by turn (a turn's calls come before its code).
  std::vector<const TrajectoryCall*> calls;
  std::vector<const TrajectoryExecution*> execs;
  for (const auto& c : t.calls) {
    if (c.lease == lease) calls.push_back(&c);
  }
  for (const auto& e : t.executions) {
    if (e.lease == lease) execs.push_back(&e);
  }
  size_t ci = 0, ei = 0, shown = 0;
  while (ci < calls.size() || ei < execs.size()) {
    bool call_next =
        ei == execs.size() || (ci < calls.size() && calls[ci]->turn <= execs[ei]->turn);
    if (call_next) {
      PrintCall(out, *calls[ci++], shown, o);
    } else {
      PrintExecution(out, *execs[ei++], o);
    }
  }
}

// Which candidate passed, as a sentence.
std::string PassedSentence(const TrajectoryVerdict& v) {
  if (v.passed_by == "code") return "It passed on the output of the code the model wrote.";
  if (v.passed_by == "reply") return "It passed on the model's reply text.";
  if (v.correct) return "It passed.";
  return v.code_used ? "Neither the reply nor the code's output passed."
                     : "The reply did not pass.";
}

std::string CodeSentence(const TrajectoryVerdict& v) {
  if (!v.code_used) return "The model wrote no code that was run.";
  return v.code_ok ? "The model's code ran without error."
                   : "The model's code ran but never finished without an error.";
}

void PrintVerdict(std::ostringstream& out, const Trajectory& t, const ShowOptions& o) {
  if (!t.verdict) {
    out << "\n== no verdict (state " << t.state << ")";
    if (!t.last_error.empty()) out << ": " << t.last_error;
    out << "\n";
    return;
  }
  const TrajectoryVerdict& v = *t.verdict;
  char cost[200];
  std::snprintf(cost, sizeof cost, "%d turn(s), %lld tokens in and %lld out, $%.6f, %lld ms",
                v.turns_used, static_cast<long long>(v.tokens_in),
                static_cast<long long>(v.tokens_out), v.cost_usd,
                static_cast<long long>(v.wall_ms));
  char score[32];
  std::snprintf(score, sizeof score, "%.3f", v.score);
  out << "\n== verdict (attempt lease " << v.lease << "): " << (v.correct ? "CORRECT" : "WRONG")
      << ", score " << score << "\n"
      << PassedSentence(v) << " " << CodeSentence(v) << "\n"
      << "Cost: " << cost << ".\n";
  Block(out, "expected answer", v.target.empty() ? "(not recorded for this result)" : v.target, o);
  Block(out, "model's answer", v.final_answer, o);
  Block(out, "why", v.verdict_reason, o);
  if (v.extra_json != "{}" && !v.extra_json.empty()) out << "extra: " << v.extra_json << "\n";
}

}  // namespace

std::string FormatTrajectory(const Trajectory& t, const ShowOptions& o) {
  std::ostringstream out;
  out << "cell " << t.cell_key << " (job " << t.job_id << ")\n"
      << "sweep " << t.sweep << ", task " << t.task << ", complexity "
      << (t.complexity.empty() ? "-" : t.complexity) << ", sample " << t.sample << "\n"
      << "model " << t.model << ", method " << t.method << ", turns " << t.turns << "\n"
      << "state " << t.state << ", attempts " << t.attempts_made << "\n";
  std::vector<int64_t> leases;
  for (const TrajectoryAttempt& a : t.attempts) {
    leases.push_back(a.lease);
    out << "\n== attempt " << a.attempt << " (lease " << a.lease << ", worker " << a.worker
        << "): " << (a.outcome.empty() ? "running" : a.outcome);
    if (!a.error.empty()) out << " - " << a.error;
    out << "\n";
    PrintAttempt(out, t, a.lease, o);
  }
  // Calls recorded under a lease without an attempts row (e.g. rows inserted by tools).
  for (const auto& c : t.calls) {
    bool known = false;
    for (int64_t l : leases) known = known || l == c.lease;
    if (!known) {
      leases.push_back(c.lease);
      out << "\n== lease " << c.lease << "\n";
      PrintAttempt(out, t, c.lease, o);
    }
  }
  PrintVerdict(out, t, o);
  // Model text may hold escape sequences: nothing reaches the terminal as a control character.
  return EscapeForTerminal(out.str());
}

}  // namespace codesweep
