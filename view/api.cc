// ViewApi: the JSON endpoints of `codesweep view` (see api.h and docs/view.md).
#include "view/api.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <nlohmann/json.hpp>
#include <utility>

namespace codesweep::view {
namespace {

using json = nlohmann::json;

constexpr int64_t kPageSize = 50;
constexpr int64_t kCountCap = 10'000;      // the cell list counts matches up to this many
constexpr int64_t kSearchCountCap = 200;   // ... and this many for a search of common words
constexpr int64_t kSearchSetCap = 20'000;  // a search matching at most this many texts gathers them
constexpr int64_t kPrefixWords = 16;       // the last word of a search stands for at most this many
constexpr int64_t kComparePage = 100;      // Compare lists this many pairs at a time

bool WordByte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || isalnum(u);
}

// The user's words as one FTS5 phrase: "a ""b"" c". Quoted, no FTS5 operator (OR, NEAR, -, ^,
// column names) in the text means anything. "" when the text has nothing the index holds words
// of (only punctuation), which the index cannot search for.
std::string FtsPhrase(const std::string& text) {
  bool word = false;
  std::string out = "\"";
  for (char c : text) {
    word = word || WordByte(c);
    out += c == '"' ? std::string("\"\"") : c == '\0' ? std::string(" ") : std::string(1, c);
  }
  return word ? out + "\"" : "";
}

// The smallest string greater than every string that begins with `prefix` (byte order), or ""
// when there is none.
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (!prefix.empty()) prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

json ValueJson(const QueryValue& v) {
  if (const auto* n = std::get_if<int64_t>(&v)) return *n;
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  return nullptr;
}

json RowsJson(const QueryRows& rows) {
  json out = json::array();
  for (const auto& row : rows.rows) {
    json o = json::object();
    for (size_t c = 0; c < row.size(); ++c) o[rows.columns[c]] = ValueJson(row[c]);
    out.push_back(std::move(o));
  }
  return out;
}

// Model text may be invalid UTF-8: it is replaced, never thrown on.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

int64_t IntParam(const Params& p, const std::string& name, int64_t fallback) {
  auto it = p.find(name);
  if (it == p.end() || it->second.empty() || it->second.size() > 18) return fallback;
  int64_t v = 0;
  for (char c : it->second) {
    if (c < '0' || c > '9') return fallback;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::string Param(const Params& p, const std::string& name) {
  auto it = p.find(name);
  return it == p.end() ? std::string() : it->second;
}

// A LIKE pattern matching `text` anywhere, with its own wildcards escaped (ESCAPE '\').
std::string Contains(const std::string& text) {
  std::string out = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out + "%";
}

std::string IdList(const std::vector<int64_t>& ids) {
  std::string out;
  for (int64_t id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out.empty() ? "NULL" : out;
}

// A single-quoted shell word.
std::string ShellQuote(const std::string& s) {
  bool plain = !s.empty();
  for (char c : s) {
    if (!isalnum(static_cast<unsigned char>(c)) &&
        std::string_view("-_./:=@+,").find(c) == std::string_view::npos) {
      plain = false;
    }
  }
  if (plain) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// WHERE clauses with their anonymous parameters, in order.
struct Where {
  std::string sql;
  std::vector<QueryValue> params;
  void Add(const std::string& clause) { sql += (sql.empty() ? " WHERE " : " AND ") + clause; }
  void Add(const std::string& clause, QueryValue v) {
    Add(clause);
    params.push_back(std::move(v));
  }
};

}  // namespace

std::string PercentDecode(const std::string& s, bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+' && plus_is_space) {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() + 0 && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

Params ParseQuery(const std::string& query) {
  Params out;
  size_t at = 0;
  while (at <= query.size()) {
    size_t end = query.find('&', at);
    if (end == std::string::npos) end = query.size();
    std::string pair = query.substr(at, end - at);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string key = PercentDecode(pair.substr(0, eq), true);
      out[key] = eq == std::string::npos ? "" : PercentDecode(pair.substr(eq + 1), true);
    }
    at = end + 1;
  }
  return out;
}

ViewApi::ViewApi(std::unique_ptr<ReportDb> db, std::string db_path)
    : db_(std::move(db)), db_path_(std::move(db_path)) {}
ViewApi::~ViewApi() = default;

ApiAnswer ViewApi::Handle(const std::string& name, const Params& params) {
  // A value of an unexpected type in the database (nlohmann::json or std::get throw) is an
  // answer of 500, never the end of the server.
  try {
    return Route(name, params);
  } catch (const std::exception& e) {
    return {500,
            Dump(json{{"error", std::string("unexpected data in the database: ") + e.what()}})};
  }
}

ApiAnswer ViewApi::Route(const std::string& name, const Params& params) {
  Result<std::string> out = Status::NotFound("no such page");
  Status settings = RefreshSettings();
  if (!settings.ok()) {
    out = settings;
  } else if (name == "sweeps") {
    out = Sweeps();
  } else if (name == "filters") {
    out = Filters(params);
  } else if (name == "cells") {
    out = Cells(params);
  } else if (name == "cell") {
    out = Cell(params);
  } else if (name == "results") {
    out = Results(params);
  } else if (name == "compare") {
    out = Compare(params);
  } else if (name == "errors") {
    out = Errors(params);
  }
  if (out.ok()) return {200, std::move(*out)};
  const int status = out.status().code() == StatusCode::kNotFound          ? 404
                     : out.status().code() == StatusCode::kInvalidArgument ? 400
                                                                           : 500;
  return {status, Dump(json{{"error", out.status().message()}})};
}

// v_setting (report/sql/0005_report_settings_views.sql) over view_states instead of jobs, as a
// CTE of the same name that the query reads in its place. Kept in step with the view by the unit
// test that compares the model filter lists with and without view_states (unit_view).
constexpr const char* kSettingsFromStates =
    "WITH v_setting AS (WITH u AS (SELECT DISTINCT sweep_id, variant_id FROM view_states),"
    " l AS (SELECT u.sweep_id, u.variant_id, v.model, v.gen_json, v.content_hash,"
    " count(*) OVER (PARTITION BY u.sweep_id, v.model) AS variants,"
    " count(*) OVER (PARTITION BY u.sweep_id, v.model, v.gen_json) AS same_gen"
    " FROM u JOIN variants v ON v.id = u.variant_id)"
    " SELECT sweep_id, variant_id, CASE WHEN variants = 1 THEN model"
    " WHEN same_gen = 1 THEN model || ' ' || gen_json"
    " ELSE model || ' ' || gen_json || ' #' || substr(content_hash, 1, 8) END AS model FROM l) ";

Status ViewApi::RefreshSettings() {
  CS_ASSIGN_OR_RETURN(QueryRows key, db_->QueryRowsOf("SELECT coalesce(max(id), 0) FROM jobs", {}));
  const int64_t max_id = std::get<int64_t>(key.rows.at(0).at(0));
  if (max_id == settings_key_) return Status::OK();
  // v_setting finds the settings among every job; the writer-kept view_states has them in a few
  // thousand rows, from which the same labels are made (kSettingsFromStates).
  CS_ASSIGN_OR_RETURN(bool kept, HasTable("view_states"));
  CS_ASSIGN_OR_RETURN(QueryRows rows,
                      db_->QueryRowsOf(std::string(kept ? kSettingsFromStates : "") +
                                           "SELECT st.sweep_id, st.variant_id, s.name, st.model"
                                           " FROM v_setting st JOIN sweeps s ON s.id = st.sweep_id"
                                           " ORDER BY st.sweep_id, st.model",
                                       {}));
  settings_.clear();
  sweep_ids_.clear();
  filters_cache_.clear();
  totals_.clear();
  for (const auto& r : rows.rows) {
    settings_.push_back({std::get<int64_t>(r[0]), std::get<int64_t>(r[1]),
                         std::get<std::string>(r[2]), std::get<std::string>(r[3])});
    sweep_ids_[settings_.back().sweep] = settings_.back().sweep_id;
  }
  settings_key_ = max_id;
  return Status::OK();
}

Result<bool> ViewApi::HasColumn(const std::string& table, const std::string& column) {
  const std::string key = table + "." + column;
  if (auto it = columns_.find(key); it != columns_.end()) return it->second;
  CS_ASSIGN_OR_RETURN(QueryRows rows, db_->QueryRowsOf("SELECT count(*) FROM pragma_table_info(?)"
                                                       " WHERE name = ?",
                                                       {table, column}));
  return columns_[key] = std::get<int64_t>(rows.rows.at(0).at(0)) > 0;
}

Result<bool> ViewApi::HasTable(const std::string& name) {
  if (tables_.contains(name)) return true;
  CS_ASSIGN_OR_RETURN(QueryRows rows, db_->QueryRowsOf("SELECT count(*) FROM sqlite_schema"
                                                       " WHERE name = ?",
                                                       {name}));
  if (std::get<int64_t>(rows.rows.at(0).at(0)) == 0) return false;
  return tables_[name] = true;
}

Result<bool> ViewApi::HasIndexColumn(const std::string& index, const std::string& column) {
  const std::string key = "index " + index + "." + column;
  if (auto it = columns_.find(key); it != columns_.end()) return it->second;
  CS_ASSIGN_OR_RETURN(QueryRows rows, db_->QueryRowsOf("SELECT count(*) FROM pragma_index_info(?)"
                                                       " WHERE name = ?",
                                                       {index, column}));
  const bool found = std::get<int64_t>(rows.rows.at(0).at(0)) > 0;
  if (found) columns_[key] = true;  // a writer may add it while the viewer runs
  return found;
}

// The FTS5 query for what the user typed: the words as a phrase whose last word also stands for
// the indexed words that begin with it (a search as one types), found in the TEMP fts5vocab
// tables (ReportDb::Open): `"a b c" OR "a b cat"`. Every phrase is exact, so a cell's test is a
// seek in each word's list; FTS5's own prefix query ("a b c"*) merges the whole list of every
// such word on each test, which at a million replies made a common-word search take seconds
// (BENCHMARKS.md). A last word that begins more than kPrefixWords indexed words stands for
// itself only (a short prefix of many words is rarely what one means).
Result<std::string> ViewApi::SearchQuery(const std::string& text) {
  const std::string phrase = FtsPhrase(text);
  if (phrase.empty() || !WordByte(text.back())) return phrase;
  if (!vocab_) {
    CS_ASSIGN_OR_RETURN(int64_t n, Count("SELECT count(*) FROM temp.sqlite_schema WHERE name IN"
                                         " ('reply_search_vocab', 'answer_search_vocab')",
                                         {}));
    vocab_ = n == 2;
  }
  size_t start = text.size();
  while (start > 0 && WordByte(text[start - 1])) --start;
  std::string prefix = text.substr(start);
  for (char& c : prefix) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  const std::string end = PrefixEnd(prefix);
  if (!*vocab_ || end.empty()) return phrase;
  const std::string limit = std::to_string(kPrefixWords + 1);
  CS_ASSIGN_OR_RETURN(
      QueryRows words,
      db_->QueryRowsOf("SELECT term FROM (SELECT term FROM temp.reply_search_vocab WHERE term >= ?1"
                       " AND term < ?2 LIMIT " +
                           limit +
                           ") UNION SELECT term FROM (SELECT term FROM temp.answer_search_vocab"
                           " WHERE term >= ?1 AND term < ?2 LIMIT " +
                           limit + ")",
                       {prefix, end}));
  if (words.rows.empty() || static_cast<int64_t>(words.rows.size()) > kPrefixWords) return phrase;
  // The words as typed are one of the phrases when the index holds the last one as typed. When
  // it does not, they can match nothing if that word is ASCII (folded exactly as above), and a
  // phrase that matches nothing still costs every cell's test of an OR (the "step by ste" count
  // took 1.75 times that of "step by step"); a word with other letters stays, since FTS5 folds
  // their case and accents as this lower-casing does not.
  std::string out;
  bool typed = false;
  for (const auto& row : words.rows) {
    const auto* word = std::get_if<std::string>(&row.at(0));
    if (word == nullptr) continue;
    typed = typed || *word == prefix;
    out += (out.empty() ? "" : " OR ") + FtsPhrase(text.substr(0, start) + *word);
  }
  const bool ascii = std::all_of(prefix.begin(), prefix.end(),
                                 [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  return typed || ascii ? out : phrase + (out.empty() ? "" : " OR " + out);
}

std::string ViewApi::ModelOf(int64_t variant_id) const {
  for (const Setting& s : settings_) {
    if (s.variant_id == variant_id) return s.model;
  }
  return "";
}

std::vector<int64_t> ViewApi::VariantIds(const std::string& sweep, const std::string& model) const {
  std::vector<int64_t> out;
  for (const Setting& s : settings_) {
    if ((sweep.empty() || s.sweep == sweep) && (model.empty() || s.model == model)) {
      out.push_back(s.variant_id);
    }
  }
  return out;
}

int64_t ViewApi::SweepId(const std::string& sweep) const {
  auto it = sweep_ids_.find(sweep);
  return it == sweep_ids_.end() ? -1 : it->second;
}

static int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One number from a one-row, one-column query.
Result<int64_t> ViewApi::Count(const std::string& sql, const std::vector<QueryValue>& params) {
  CS_ASSIGN_OR_RETURN(QueryRows rows, db_->QueryRowsOf(sql, params));
  if (rows.rows.empty()) return int64_t{0};
  const auto* n = std::get_if<int64_t>(&rows.rows[0][0]);
  return n == nullptr ? int64_t{0} : *n;
}

// A sweep's cells by state. Each count reads an index: the partial indexes of pending, leased and
// failed/dead jobs; the total a jobs index. With one sweep in the database no sweep filter is
// needed, which keeps the partial-index counts index-only.
Result<json> ViewApi::SweepStates(int64_t sweep_id, bool only_sweep) {
  const std::vector<QueryValue> id = {sweep_id};
  // The writer keeps the counts (view_states, 0019_view_states_newtable.sql): a few hundred rows.
  CS_ASSIGN_OR_RETURN(bool kept, HasTable("view_states"));
  if (kept) {
    CS_ASSIGN_OR_RETURN(QueryRows rows, db_->QueryRowsOf("SELECT state, sum(n) FROM view_states"
                                                         " WHERE sweep_id = ? GROUP BY state",
                                                         id));
    json out = {{"total", 0},  {"pending", 0}, {"leased", 0}, {"parked", 0},
                {"failed", 0}, {"dead", 0},    {"done", 0}};
    for (const auto& r : rows.rows) {
      const int64_t n = std::get<int64_t>(r.at(1));
      out[std::get<std::string>(r.at(0))] = n;
      out["total"] = out["total"].get<int64_t>() + n;
    }
    // Since 0020 a leased job counts as pending there (a lease moves no row): the leased ones,
    // a few hundred in flight, are read from the partial index jobs_leased.
    CS_ASSIGN_OR_RETURN(int64_t leased, Count(only_sweep ? "SELECT count(*) FROM jobs"
                                                           " WHERE state = 'leased'"
                                                         : "SELECT count(*) FROM jobs"
                                                           " WHERE state = 'leased'"
                                                           " AND +sweep_id = ?",
                                              only_sweep ? std::vector<QueryValue>{} : id));
    if (leased > 0 && out["leased"].get<int64_t>() == 0) {
      out["leased"] = leased;
      out["pending"] = out["pending"].get<int64_t>() - leased;
    }
    return out;
  }
  const std::vector<QueryValue> none;
  const auto& args = only_sweep ? none : id;
  // "+sweep_id": the sweep must not steer SQLite to a sweep-first index over the partial one.
  const std::string and_sweep = only_sweep ? "" : " AND +sweep_id = ?";
  // The grid size changes only when cells are added (cleared with the settings).
  if (!totals_.contains(sweep_id)) {
    CS_ASSIGN_OR_RETURN(totals_[sweep_id],
                        Count(only_sweep ? "SELECT count(*) FROM jobs"
                                         : "SELECT count(*) FROM jobs WHERE sweep_id = ?",
                              args));
  }
  const int64_t total = totals_[sweep_id];
  CS_ASSIGN_OR_RETURN(int64_t pending,
                      Count("SELECT count(*) FROM jobs WHERE state = 'pending'" + and_sweep, args));
  CS_ASSIGN_OR_RETURN(int64_t leased,
                      Count("SELECT count(*) FROM jobs WHERE state = 'leased'" + and_sweep, args));
  // Batch mode's parked cells (jobs_parked index): neither done nor running, still to finish.
  CS_ASSIGN_OR_RETURN(int64_t parked,
                      Count("SELECT count(*) FROM jobs WHERE state = 'parked'" + and_sweep, args));
  CS_ASSIGN_OR_RETURN(QueryRows bad, db_->QueryRowsOf("SELECT coalesce(sum(state = 'failed'), 0),"
                                                      " coalesce(sum(state = 'dead'), 0) FROM jobs"
                                                      " WHERE state IN ('failed', 'dead')" +
                                                          and_sweep,
                                                      args));
  const int64_t failed = std::get<int64_t>(bad.rows.at(0).at(0));
  const int64_t dead = std::get<int64_t>(bad.rows.at(0).at(1));
  return json{{"total", total},
              {"pending", pending},
              {"leased", leased},
              {"parked", parked},
              {"failed", failed},
              {"dead", dead},
              {"done", total - pending - leased - parked - failed - dead}};
}

Result<std::string> ViewApi::Sweeps() {
  const int64_t now_ms = NowMs();
  // Every open page polls this: while no writer has committed (PRAGMA data_version) the answer of
  // the last second is shared; its cells per second change with the clock, hence the second.
  CS_ASSIGN_OR_RETURN(int64_t version, Count("PRAGMA data_version", {}));
  if (version == sweeps_version_ && now_ms >= sweeps_at_ms_ && now_ms - sweeps_at_ms_ < 1000) {
    return sweeps_cache_;
  }
  CS_ASSIGN_OR_RETURN(QueryRows sweeps,
                      db_->QueryRowsOf("SELECT id, name, source_path, created_ms, updated_ms"
                                       " FROM sweeps ORDER BY id",
                                       {}));
  // The results of the last minute (a range of the results_finished index) by sweep. CROSS JOIN
  // keeps the results outside: SQLite would otherwise walk every job in sweep order.
  CS_ASSIGN_OR_RETURN(
      QueryRows recent,
      db_->QueryRowsOf("SELECT j.sweep_id, count(*) AS last_minute FROM results r"
                       " CROSS JOIN jobs j ON j.id = r.job_id WHERE r.finished_ms > ?"
                       " GROUP BY j.sweep_id",
                       {now_ms - 60'000}));
  // What every call of every attempt cost, and the 429s: kept per sweep by the writer
  // (view_sweep_calls, 0013_view_newtable.sql). Without that table a scan of the calls, so at
  // most every 15 s; with one sweep it reads only the covering index calls_report.
  CS_ASSIGN_OR_RETURN(bool kept, HasTable("view_sweep_calls"));
  if (kept) {
    CS_ASSIGN_OR_RETURN(QueryRows paid,
                        db_->QueryRowsOf("SELECT sweep_id, cost_usd, rate_limited, calls"
                                         " FROM view_sweep_calls",
                                         {}));
    cost_ = RowsJson(paid);
  } else if (now_ms - cost_at_ms_ > 15'000) {
    CS_ASSIGN_OR_RETURN(
        QueryRows paid,
        db_->QueryRowsOf(sweeps.rows.size() == 1
                             ? "SELECT (SELECT id FROM sweeps) AS sweep_id, sum(cost_usd) AS"
                               " cost_usd, sum(rate_limited) AS rate_limited, count(*) AS calls"
                               " FROM calls"
                             : "SELECT j.sweep_id, sum(c.cost_usd) AS cost_usd,"
                               " sum(c.rate_limited) AS rate_limited, count(*) AS calls"
                               " FROM calls c JOIN jobs j ON j.id = c.job_id GROUP BY j.sweep_id",
                         {}));
    cost_ = RowsJson(paid);
    cost_at_ms_ = now_ms;
  }
  CS_ASSIGN_OR_RETURN(QueryRows workers, db_->QueryRowsOf("SELECT worker_id, host, pid, slots,"
                                                          " state, first_seen_ms, last_seen_ms"
                                                          " FROM workers ORDER BY worker_id",
                                                          {}));
  CS_ASSIGN_OR_RETURN(QueryRows limits,
                      db_->QueryRowsOf("SELECT * FROM rate_limits ORDER BY provider, model,"
                                       " key_alias",
                                       {}));
  json out = {{"now_ms", now_ms},
              {"sweeps", RowsJson(sweeps)},
              {"workers", RowsJson(workers)},
              {"rate_limits", RowsJson(limits)}};
  json r = RowsJson(recent);
  for (json& s : out["sweeps"]) {
    CS_ASSIGN_OR_RETURN(json states, SweepStates(s["id"].get<int64_t>(), sweeps.rows.size() == 1));
    s.update(states);
    s["last_minute"] = 0;
    for (const json& x : r) {
      if (x["sweep_id"] == s["id"]) s["last_minute"] = x["last_minute"];
    }
    for (const json& x : cost_) {
      if (x["sweep_id"] == s["id"]) s.update(x);
    }
  }
  sweeps_cache_ = Dump(out);
  sweeps_version_ = version;
  sweeps_at_ms_ = now_ms;
  return sweeps_cache_;
}

Result<std::string> ViewApi::Filters(const Params& p) {
  const std::string sweep = Param(p, "sweep");
  if (auto it = filters_cache_.find(sweep); it != filters_cache_.end()) return it->second;
  Where w;
  if (!sweep.empty()) w.Add("sweep_id = ?", SweepId(sweep));
  // From the writer-kept counts when the database has them, else from every job.
  CS_ASSIGN_OR_RETURN(bool kept, HasTable("view_states"));
  CS_ASSIGN_OR_RETURN(QueryRows rows,
                      db_->QueryRowsOf(std::string("SELECT DISTINCT variant_id, task, method,"
                                                   " turns, complexity FROM ") +
                                           (kept ? "view_states" : "jobs") + w.sql,
                                       w.params));
  std::vector<std::string> tasks, methods, models, complexities;
  std::vector<int64_t> turns;
  auto add = [](auto& list, const auto& v) {
    if (std::find(list.begin(), list.end(), v) == list.end()) list.push_back(v);
  };
  for (const auto& r : rows.rows) {
    add(models, ModelOf(std::get<int64_t>(r[0])));
    add(tasks, std::get<std::string>(r[1]));
    add(methods, std::get<std::string>(r[2]));
    add(turns, std::get<int64_t>(r[3]));
    add(complexities, std::get<std::string>(r[4]));
  }
  std::sort(turns.begin(), turns.end());
  std::vector<std::string> sweeps;
  for (const auto& [name, id] : sweep_ids_) sweeps.push_back(name);
  CS_ASSIGN_OR_RETURN(bool answer_source, HasColumn("results", "answer_source"));
  return filters_cache_[sweep] = Dump(json{{"sweeps", sweeps},
                                           {"tasks", tasks},
                                           {"methods", methods},
                                           {"models", models},
                                           {"turns", turns},
                                           {"complexities", complexities},
                                           {"answer_source", answer_source}});
}

// The filters of the grid's dimensions with a state (view_states: every job), or with correct /
// incorrect or code used (view_grain: every result), are sums over the writer-kept counts, so
// their count is exact and costs a few hundred rows. Any other filter is counted on the cells.
Result<std::optional<int64_t>> ViewApi::KeptCount(const Params& p) {
  const std::optional<int64_t> none;
  for (const char* other : {"error", "q", "passed_by", "answer_source"}) {
    if (!Param(p, other).empty()) return none;
  }
  const std::string status = Param(p, "status"), code = Param(p, "code_used");
  if (!status.empty() && !code.empty()) return none;
  const bool by_state =
      code.empty() &&
      (status.empty() || status == "pending" || status == "leased" || status == "parked" ||
       status == "done" || status == "failed" || status == "dead");
  const bool by_result = status == "correct" || status == "incorrect" || code == "0" || code == "1";
  if (!by_state && !by_result) return none;
  CS_ASSIGN_OR_RETURN(bool kept, HasTable(by_state ? "view_states" : "view_grain"));
  if (!kept) return none;
  Where w;
  const std::string sweep = Param(p, "sweep"), model = Param(p, "model");
  if (!sweep.empty()) w.Add("sweep_id = ?", SweepId(sweep));
  if (!model.empty() || !sweep.empty())
    w.Add("variant_id IN (" + IdList(VariantIds(sweep, model)) + ")");
  for (const char* col : {"task", "complexity", "method"}) {
    if (!Param(p, col).empty()) w.Add(std::string(col) + " = ?", Param(p, col));
  }
  if (!Param(p, "turns").empty()) w.Add("turns = ?", IntParam(p, "turns", -1));
  std::string sum = "n";
  // Since 0020 view_states counts a leased job as pending (a lease moves no row), so the
  // pending ones are the kept count less the leased ones, read through the partial index
  // jobs_leased (the jobs in flight), and the leased ones are counted on the jobs.
  if (status == "leased") return none;
  if (by_state && !status.empty()) w.Add("state = ?", status);
  if (by_result) {
    sum = status == "correct"     ? "correct"
          : status == "incorrect" ? "n - correct"
          : code == "1"           ? "code_used"
                                  : "n - code_used";
  }
  CS_ASSIGN_OR_RETURN(int64_t n, Count("SELECT coalesce(sum(" + sum + "), 0) FROM " +
                                           (by_state ? "view_states" : "view_grain") + w.sql,
                                       w.params));
  if (status == "pending") {
    CS_ASSIGN_OR_RETURN(int64_t kept_leased,
                        Count("SELECT count(*) FROM view_states WHERE state = 'leased'", {}));
    if (kept_leased == 0) {  // a database at 0020: the leased jobs are among the pending ones
      // The same filters on the jobs, each "+" so that the partial index of leased jobs serves.
      Where leased;
      leased.Add("state = 'leased'");
      if (!sweep.empty()) leased.Add("+sweep_id = ?", SweepId(sweep));
      if (!model.empty() || !sweep.empty())
        leased.Add("+variant_id IN (" + IdList(VariantIds(sweep, model)) + ")");
      for (const char* col : {"task", "complexity", "method"}) {
        if (!Param(p, col).empty()) leased.Add(std::string("+") + col + " = ?", Param(p, col));
      }
      if (!Param(p, "turns").empty()) leased.Add("+turns = ?", IntParam(p, "turns", -1));
      CS_ASSIGN_OR_RETURN(int64_t in_flight,
                          Count("SELECT count(*) FROM jobs" + leased.sql, leased.params));
      n -= in_flight;
    }
  }
  return std::optional<int64_t>(n);
}

Result<std::string> ViewApi::Cells(const Params& p) {
  CS_ASSIGN_OR_RETURN(bool has_source, HasColumn("results", "answer_source"));
  Where w;
  const std::string sweep = Param(p, "sweep"), model = Param(p, "model");
  if (!sweep.empty()) w.Add("j.sweep_id = ?", SweepId(sweep));
  if (!model.empty() || !sweep.empty()) {
    w.Add("j.variant_id IN (" + IdList(VariantIds(sweep, model)) + ")");
  }
  for (const char* col : {"task", "complexity", "method"}) {
    if (!Param(p, col).empty()) w.Add(std::string("j.") + col + " = ?", Param(p, col));
  }
  if (!Param(p, "turns").empty()) w.Add("j.turns = ?", IntParam(p, "turns", -1));
  const std::string status = Param(p, "status");
  if (status == "correct" || status == "incorrect") {
    w.Add("ifnull(r.correct, -1) = ?", int64_t{status == "correct"});
  } else if (status == "failed" || status == "dead") {
    // Spelled so that the partial index jobs_unfinished_error serves it.
    w.Add("j.state IN ('failed', 'dead') AND j.state = ?", status);
  } else if (status == "leased") {
    w.Add("j.state = 'leased'");  // the partial index jobs_leased: the jobs in flight
  } else if (!status.empty()) {
    w.Add("j.state = ?", status);
  }
  if (!Param(p, "code_used").empty())
    w.Add("ifnull(r.code_used, -1) = ?", IntParam(p, "code_used", -1));
  if (!Param(p, "passed_by").empty()) w.Add("ifnull(r.passed_by, '') = ?", Param(p, "passed_by"));
  if (has_source && !Param(p, "answer_source").empty()) {
    w.Add("ifnull(r.answer_source, '') = ?", Param(p, "answer_source"));
  }
  if (!Param(p, "error").empty()) {
    // "<> ''" lets the partial index jobs_view_error (only the jobs with an error) serve it.
    w.Add("j.last_error <> '' AND j.last_error LIKE ? ESCAPE '\\'", Contains(Param(p, "error")));
  }
  const std::string q = Param(p, "q");
  CS_ASSIGN_OR_RETURN(bool has_search, HasTable("reply_search"));
  // search=like: the substring scan even with the index (tools/bench/bench_view.py compares).
  std::string match;
  if (has_search && Param(p, "search") != "like") {
    CS_ASSIGN_OR_RETURN(match, SearchQuery(q));
  }
  bool few_matches = true;
  if (!match.empty()) {
    // Full-text search (the FTS5 indexes of 0013_view_newtable.sql). The matching replies and
    // final answers of a rare search are gathered and the cells read by id. A common search
    // (more than kSearchSetCap texts) is tested cell by cell as the page walks the jobs in id
    // order, each test a seek in the index to the cell's own calls and answer; the page stops
    // early, and its count stops at kSearchCountCap.
    CS_ASSIGN_OR_RETURN(
        int64_t docs,
        Count("SELECT (SELECT count(*) FROM (SELECT 1 FROM reply_search WHERE reply_search MATCH"
              " ?1 LIMIT " +
                  std::to_string(kSearchSetCap + 1) +
                  ")) + (SELECT count(*) FROM (SELECT 1 FROM answer_search WHERE answer_search"
                  " MATCH ?1 LIMIT " +
                  std::to_string(kSearchSetCap + 1) + "))",
              {match}));
    // search=set or search=walk chooses the way (tests and tools/bench/bench_view.py).
    const std::string way = Param(p, "search");
    few_matches = way == "set" || (way != "walk" && docs <= kSearchSetCap);
    // Since 0022 the writer indexes at each commit what it wrote; rows another tool wrote since
    // (calls above view_search_mark, results in view_answer_backlog: a few) are not indexed
    // yet and are matched as substrings, gathered once. CROSS JOIN: the backlog first (SQLite
    // would rather scan every result).
    CS_ASSIGN_OR_RETURN(bool backlog, HasTable("view_search_mark"));
    const std::string tail =
        "SELECT job_id FROM calls WHERE id > (SELECT reply_indexed_to FROM view_search_mark) AND"
        " response_json LIKE ? ESCAPE '\\' UNION SELECT b.job_id FROM view_answer_backlog b"
        " CROSS JOIN results r ON r.job_id = b.job_id WHERE r.final_answer LIKE ? ESCAPE '\\'";
    // CROSS JOIN: the cell's calls first, then a seek for each in the index (SQLite would rather
    // read the whole list of the words for every cell).
    w.Add(few_matches ? "j.id IN (SELECT c.job_id FROM reply_search f JOIN calls c ON c.id ="
                        " f.rowid WHERE reply_search MATCH ? UNION SELECT rowid FROM"
                        " answer_search WHERE answer_search MATCH ?" +
                            (backlog ? " UNION " + tail : std::string()) + ")"
                      : "(EXISTS (SELECT 1 FROM answer_search WHERE answer_search MATCH ? AND"
                        " rowid = j.id) OR EXISTS (SELECT 1 FROM calls c CROSS JOIN reply_search"
                        " f ON f.rowid = c.id WHERE c.job_id = j.id AND reply_search MATCH ?)" +
                            (backlog ? " OR j.id IN (" + tail + ")" : std::string()) + ")",
          match);
    w.params.push_back(match);
    if (backlog) {
      w.params.push_back(Contains(q));
      w.params.push_back(Contains(q));
    }
  } else if (!q.empty()) {
    // No index yet (a database before 0013), or nothing the index has words for ("<>"): a
    // substring scan of every reply.
    const std::string like = Contains(q);
    few_matches = false;
    w.Add(
        "(r.final_answer LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM calls c"
        " WHERE c.job_id = j.id AND c.response_json LIKE ? ESCAPE '\\'))",
        like);
    w.params.push_back(like);
  }
  // The result filters above are spelled with ifnull() so that SQLite keeps this a LEFT JOIN
  // with the jobs outside: the rows then come in id order and a page stops early.
  // An error text is looked for among the jobs with an error only (a few per cent): the partial
  // index jobs_view_error (0013_view_index.sql), named because SQLite would rather walk the sweep.
  CS_ASSIGN_OR_RETURN(bool error_index, HasTable("jobs_view_error"));
  const bool by_error = error_index && !Param(p, "error").empty() && match.empty();
  const std::string from = std::string(" FROM jobs j") +
                           (by_error ? " INDEXED BY jobs_view_error" : "") +
                           " LEFT JOIN results r ON r.job_id = j.id";
  json out = {{"answer_source", has_source}};
  // A search that tests cell by cell reads every reply it passes, so its count stops sooner.
  const int64_t cap = few_matches ? kCountCap : kSearchCountCap;
  // rows=0: only the count; count=0: only the rows (a page change keeps its count).
  std::optional<int64_t> kept;
  if (Param(p, "count") != "0") {
    CS_ASSIGN_OR_RETURN(kept, KeptCount(p));
  }
  if (kept) {
    out["matches"] = *kept;
    out["matches_capped"] = false;
  } else if (Param(p, "count") != "0") {
    // A search counts like the page ("+" as below): one that tests cell by cell in id order, so
    // it stops after its first matches, and one that gathered its cells by reading each by id,
    // instead of walking a sweep-first index of every cell of the sweep and testing each
    // against the gathered set (a rare word's count took 140 ms of CPU that way). So does the
    // count of the leased cells, through the partial index of the jobs in flight.
    Where counted = w;
    for (const char* col : {"j.sweep_id = ?", "j.variant_id IN ("}) {
      size_t at = counted.sql.find(col);
      if ((!q.empty() || status == "leased") && at != std::string::npos) {
        counted.sql.insert(at, "+");
      }
    }
    CS_ASSIGN_OR_RETURN(int64_t matches,
                        Count("SELECT count(*) FROM (SELECT 1" + from + counted.sql + " LIMIT " +
                                  std::to_string(cap + 1) + ")",
                              counted.params));
    out["matches"] = std::min(matches, cap);
    out["matches_capped"] = matches > cap;
  }
  if (Param(p, "rows") == "0") return Dump(out);
  // The rows walk the jobs in id order and stop at a page: "+" keeps SQLite from reading a
  // sweep-first index instead and sorting every cell of the sweep by id.
  Where page = w;
  for (const char* col : {"j.sweep_id = ?", "j.variant_id IN ("}) {
    if (size_t at = page.sql.find(col); at != std::string::npos) page.sql.insert(at, "+");
  }
  const int64_t after = IntParam(p, "after", 0), before = IntParam(p, "before", 0);
  if (before > 0) page.Add("j.id < ?", before);
  if (after > 0) page.Add("j.id > ?", after);
  const std::string order = before > 0 ? " ORDER BY j.id DESC" : " ORDER BY j.id";
  const std::string cols =
      "SELECT j.id, j.task, j.complexity, j.sample, j.variant_id, j.method, j.turns, j.state,"
      " j.attempts, substr(j.last_error, 1, 200) AS error, r.correct, r.score, r.code_used,"
      " r.passed_by, r.turns_used, r.tokens_in + r.tokens_out AS tokens, r.cost_usd, r.wall_ms,"
      " substr(r.final_answer, 1, 120) AS answer" +
      std::string(has_source ? ", r.answer_source" : "");
  CS_ASSIGN_OR_RETURN(QueryRows rows, db_->QueryRowsOf(cols + from + page.sql + order + " LIMIT " +
                                                           std::to_string(kPageSize + 1),
                                                       page.params));
  const bool more = static_cast<int64_t>(rows.rows.size()) > kPageSize;
  if (more) rows.rows.pop_back();
  if (before > 0) std::reverse(rows.rows.begin(), rows.rows.end());
  json cells = RowsJson(rows);
  for (json& c : cells) c["model"] = ModelOf(c["variant_id"].get<int64_t>());
  out["cells"] = std::move(cells);
  out["has_prev"] = before > 0 ? more : after > 0;
  out["has_next"] = before > 0 ? true : more;
  return Dump(out);
}

Result<std::string> ViewApi::Cell(const Params& p) {
  const int64_t id = IntParam(p, "id", -1);
  if (id < 0) return Status::InvalidArgument("no cell id");
  CS_ASSIGN_OR_RETURN(Trajectory t, db_->LoadTrajectory(id));
  json out = {{"id", t.job_id},
              {"cell_key", t.cell_key},
              {"sweep", t.sweep},
              {"task", t.task},
              {"complexity", t.complexity},
              {"model", t.model},
              {"method", t.method},
              {"state", t.state},
              {"last_error", t.last_error},
              {"sample", t.sample},
              {"turns", t.turns},
              {"attempts_made", t.attempts_made},
              {"attempts", json::array()},
              {"calls", json::array()},
              {"executions", json::array()}};
  for (const TrajectoryAttempt& a : t.attempts) {
    out["attempts"].push_back({{"lease", a.lease},
                               {"attempt", a.attempt},
                               {"worker", a.worker},
                               {"outcome", a.outcome},
                               {"error", a.error},
                               {"started_ms", a.started_ms},
                               {"ended_ms", a.ended_ms}});
  }
  for (const TrajectoryCall& c : t.calls) {
    out["calls"].push_back({{"lease", c.lease},
                            {"index", c.index},
                            {"turn", c.turn},
                            {"request_json", c.request_json},
                            {"response_json", c.response_json},
                            {"error", c.error},
                            {"tokens_in", c.tokens_in},
                            {"tokens_out", c.tokens_out},
                            {"latency_ms", c.latency_ms},
                            {"http_status", c.http_status},
                            {"attempts", c.attempts},
                            {"rate_limited", c.rate_limited},
                            {"cost_usd", c.cost_usd},
                            {"cached", c.cached}});
  }
  for (const TrajectoryExecution& e : t.executions) {
    out["executions"].push_back({{"lease", e.lease},
                                 {"index", e.index},
                                 {"turn", e.turn},
                                 {"code", e.code},
                                 {"status", e.status},
                                 {"stdout", e.stdout_text},
                                 {"stderr", e.stderr_text},
                                 {"tier", e.tier},
                                 {"exit_code", e.exit_code},
                                 {"signal", e.signal},
                                 {"wall_ms", e.wall_ms},
                                 {"cpu_ms", e.cpu_ms},
                                 {"peak_rss_kb", e.peak_rss_kb},
                                 {"stdout_truncated", e.stdout_truncated},
                                 {"stderr_truncated", e.stderr_truncated}});
  }
  if (t.verdict) {
    const TrajectoryVerdict& v = *t.verdict;
    out["verdict"] = {{"lease", v.lease},           {"final_answer", v.final_answer},
                      {"passed_by", v.passed_by},   {"reason", v.verdict_reason},
                      {"extra_json", v.extra_json}, {"correct", v.correct},
                      {"code_used", v.code_used},   {"code_ok", v.code_ok},
                      {"score", v.score},           {"cost_usd", v.cost_usd},
                      {"turns_used", v.turns_used}, {"tokens_in", v.tokens_in},
                      {"tokens_out", v.tokens_out}, {"wall_ms", v.wall_ms}};
    CS_ASSIGN_OR_RETURN(bool has_source, HasColumn("results", "answer_source"));
    if (has_source) {
      CS_ASSIGN_OR_RETURN(QueryRows src, db_->QueryRowsOf("SELECT answer_source FROM results"
                                                          " WHERE job_id = ?",
                                                          {t.job_id}));
      if (!src.rows.empty()) out["verdict"]["answer_source"] = ValueJson(src.rows[0][0]);
    }
  }
  return Dump(out);
}

// The report's chain of views (report/sql: v_task_success, v_task_normalized, v_method_score,
// v_method_summary) over a grain given as the CTE `grain`, which has v_report_grain's columns.
// Kept in step with the views by the unit test that compares both answers (unit_view).
constexpr const char* kScoreChain =
    ", t AS (SELECT sweep, model, task, method, turns, sum(n) AS n, sum(correct) AS correct,"
    " sum(score_sum) AS score_sum FROM grain GROUP BY sweep, model, task, method, turns),"
    " w AS (SELECT *, 1.0 * correct / n AS p, 1.959964 * 1.959964 AS z2 FROM t),"
    " success AS (SELECT sweep, model, task, method, turns, 100.0 * p AS success_pct FROM w),"
    " normalized AS (SELECT sweep, model, task, method, turns, success_pct, success_pct /"
    " max(success_pct) OVER (PARTITION BY sweep, model, turns, task) AS normalized FROM success),"
    " m AS (SELECT sweep, model, method, turns, count(*) AS tasks, 100.0 * avg(normalized) AS"
    " avg_norm_pct FROM normalized WHERE normalized IS NOT NULL"
    " GROUP BY sweep, model, method, turns),"
    " score AS MATERIALIZED (SELECT *, rank() OVER (PARTITION BY sweep, model, turns ORDER BY"
    " avg_norm_pct DESC) AS rank, count(*) OVER (PARTITION BY sweep, model, turns) AS"
    " methods_tested FROM m),"
    " models AS (SELECT DISTINCT sweep, model, turns, methods_tested FROM score),"
    " methods AS (SELECT DISTINCT sweep, method, turns FROM score),"
    " cross_models AS (SELECT me.sweep, me.method, me.turns, mo.model, s.avg_norm_pct,"
    " coalesce(s.rank, mo.methods_tested + 1) AS rank FROM methods me JOIN models mo ON"
    " mo.sweep = me.sweep AND mo.turns = me.turns LEFT JOIN score s ON s.sweep = me.sweep AND"
    " s.model = mo.model AND s.method = me.method AND s.turns = me.turns),"
    " summary AS (SELECT sweep, method, turns, count(avg_norm_pct) AS models_run,"
    " avg(avg_norm_pct) AS avg_score_pct, avg(rank) AS avg_rank FROM cross_models"
    " GROUP BY sweep, method, turns)";

Result<std::string> ViewApi::Results(const Params& p) {
  CS_ASSIGN_OR_RETURN(bool has_grain, HasTable("view_grain"));
  if (has_grain && Param(p, "from") != "views") return ResultsFromGrain(p);
  CS_ASSIGN_OR_RETURN(QueryRows version, db_->QueryRowsOf("PRAGMA data_version", {}));
  const std::string sweep = Param(p, "sweep");
  const std::string key = sweep + "\n" + std::to_string(std::get<int64_t>(version.rows[0][0]));
  // Without view_grain (a database no writer has migrated to 0013 yet) the views read every
  // result: while a sweep writes, they are recomputed at most every 30 s.
  // from=views asks for the views themselves, computed now (tests and bench_view.py compare).
  const int64_t now_ms = NowMs();
  const bool fresh = Param(p, "from") == "views";
  if (!fresh && (key == results_cache_key_ || (results_cache_key_.starts_with(sweep + "\n") &&
                                               now_ms - results_at_ms_ < 30'000))) {
    return results_cache_;
  }
  const std::vector<QueryValue> args = {sweep};
  CS_ASSIGN_OR_RETURN(QueryRows grain,
                      db_->QueryRowsOf("SELECT * FROM v_report_grain WHERE ?1 = '' OR sweep = ?1"
                                       " ORDER BY complexity_order",
                                       args));
  CS_ASSIGN_OR_RETURN(QueryRows score,
                      db_->QueryRowsOf("SELECT * FROM v_method_score WHERE ?1 = '' OR sweep = ?1"
                                       " ORDER BY sweep, model, turns, rank, method",
                                       args));
  CS_ASSIGN_OR_RETURN(QueryRows summary,
                      db_->QueryRowsOf("SELECT * FROM v_method_summary"
                                       " WHERE ?1 = '' OR sweep = ?1 ORDER BY sweep, turns,"
                                       " avg_rank, method",
                                       args));
  results_cache_ = Dump(json{{"grain", RowsJson(grain)},
                             {"method_score", RowsJson(score)},
                             {"method_summary", RowsJson(summary)},
                             {"as_of_ms", now_ms}});
  results_cache_key_ = key;
  results_at_ms_ = now_ms;
  return results_cache_;
}

// The same tables from view_grain, the sums the writer keeps per group as it records each result
// (schema/sql/0013_view_newtable.sql): a few hundred rows instead of every result, so they are
// exact at every refresh. The model settings' labels come from the cached v_setting.
Result<std::string> ViewApi::ResultsFromGrain(const Params& p) {
  const std::string sweep = Param(p, "sweep");
  std::vector<QueryValue> args = {sweep};
  std::string labels;
  for (const Setting& s : settings_) {
    const std::string at = std::to_string(args.size() + 1);  // ?1 is the sweep
    labels += std::string(labels.empty() ? "" : ", ") + "(?" + at + ", ?" +
              std::to_string(args.size() + 2) + ", ?" + std::to_string(args.size() + 3) + ")";
    args.insert(args.end(), {s.sweep_id, s.variant_id, s.model});
  }
  if (labels.empty()) labels = "(NULL, NULL, NULL)";
  const std::string grain =
      "WITH st(sweep_id, variant_id, model) AS (VALUES " + labels +
      "), grain AS (SELECT s.name AS sweep, st.model, g.task, g.method, g.turns, g.complexity,"
      " g.complexity_order, g.n, g.correct, g.score_sum, g.code_used, g.code_ok, g.tokens_in,"
      " g.tokens_out, g.cost_usd, g.wall_ms, g.calls FROM view_grain g"
      " JOIN sweeps s ON s.id = g.sweep_id"
      " JOIN st ON st.sweep_id = g.sweep_id AND st.variant_id = g.variant_id"
      " WHERE ?1 = '' OR s.name = ?1)";
  CS_ASSIGN_OR_RETURN(
      QueryRows rows,
      db_->QueryRowsOf(grain + " SELECT * FROM grain ORDER BY complexity_order", args));
  CS_ASSIGN_OR_RETURN(QueryRows score,
                      db_->QueryRowsOf(grain + kScoreChain +
                                           " SELECT * FROM score ORDER BY sweep, model, turns,"
                                           " rank, method",
                                       args));
  CS_ASSIGN_OR_RETURN(QueryRows summary,
                      db_->QueryRowsOf(grain + kScoreChain +
                                           " SELECT * FROM summary ORDER BY sweep, turns,"
                                           " avg_rank, method",
                                       args));
  return Dump(json{{"grain", RowsJson(rows)},
                   {"method_score", RowsJson(score)},
                   {"method_summary", RowsJson(summary)},
                   {"as_of_ms", NowMs()}});
}

// Compare: the cells of the same samples (sweep, task, turns, complexity, sample) under two
// (model setting, method) sides, A and B, for one or more pairs of sides (dim=method without a
// model: one pair per setting; dim=model without a method: one per method). Each sample gives
// one row per pair: x and y, A's and B's outcome, '1' (a correct result), '0' (an incorrect one)
// or ' ' (no result), for the samples where A or B has a result. The counts group the rows by
// (x, y); the page lists the rows where they differ first, then those where both have the same
// result, each in sample order (then pair), and only the page's cells are read.
//
// With the writer-kept view_outcomes (0020_view_outcomes_newtable.sql) the rows come from one
// walk of the sweep's samples, a short string each, read here once for every pair; without it
// (from=jobs, or a database before 0020) from the jobs and results. The unit test compares both.
Result<std::string> ViewApi::Compare(const Params& p) {
  // dim = method: two methods on one model setting; dim = model: two settings with one method.
  const std::string sweep = Param(p, "sweep"), dim = Param(p, "dim");
  const std::string a = Param(p, "a"), b = Param(p, "b");
  if (sweep.empty() || a.empty() || b.empty() || (dim != "method" && dim != "model")) {
    return Status::InvalidArgument("choose a sweep and two methods or two models");
  }
  const int64_t sweep_id = SweepId(sweep);
  CS_ASSIGN_OR_RETURN(bool kept, HasTable("view_outcomes"));
  kept = kept && Param(p, "from") != "jobs";
  // The (variant, method) of A and of B in each pair compared, in the order rows are listed.
  struct Side {
    int64_t variant = 0;
    std::string method;
  };
  std::vector<std::pair<Side, Side>> pairs;
  if (dim == "method") {
    for (int64_t v : VariantIds(sweep, Param(p, "model"))) pairs.push_back({{v, a}, {v, b}});
  } else {
    std::vector<std::string> methods;
    if (!Param(p, "method").empty()) {
      methods.push_back(Param(p, "method"));
    } else {
      CS_ASSIGN_OR_RETURN(QueryRows rows,
                          db_->QueryRowsOf(std::string("SELECT DISTINCT method FROM ") +
                                               (kept ? "view_outcome_slots" : "jobs") +
                                               " WHERE sweep_id = ? ORDER BY method",
                                           {sweep_id}));
      for (const auto& r : rows.rows) methods.push_back(std::get<std::string>(r.at(0)));
    }
    for (int64_t va : VariantIds(sweep, a)) {
      for (int64_t vb : VariantIds(sweep, b)) {
        for (const std::string& m : methods) pairs.push_back({{va, m}, {vb, m}});
      }
    }
  }
  Where w;
  w.Add("sweep_id = ?", sweep_id);
  if (!Param(p, "task").empty()) w.Add("task = ?", Param(p, "task"));
  if (!Param(p, "turns").empty()) w.Add("turns = ?", IntParam(p, "turns", -1));
  // The samples in order: task, turns, complexity, sample (view_outcomes' primary key).
  QueryRows samples;
  // kept: each pair's positions (1-based, 0 = no result yet) in the strings of the sweep.
  std::vector<std::pair<size_t, size_t>> at(pairs.size());
  if (kept) {
    CS_ASSIGN_OR_RETURN(QueryRows slots, db_->QueryRowsOf("SELECT variant_id, method, slot FROM"
                                                          " view_outcome_slots WHERE sweep_id = ?",
                                                          {sweep_id}));
    auto slot = [&](const Side& s) -> size_t {
      for (const auto& r : slots.rows) {
        if (std::get<int64_t>(r.at(0)) == s.variant && std::get<std::string>(r.at(1)) == s.method)
          return static_cast<size_t>(std::get<int64_t>(r.at(2)));
      }
      return 0;
    };
    for (size_t k = 0; k < pairs.size(); ++k) at[k] = {slot(pairs[k].first), slot(pairs[k].second)};
    CS_ASSIGN_OR_RETURN(samples,
                        db_->QueryRowsOf("SELECT task, turns, complexity, sample, outcomes FROM"
                                         " view_outcomes" +
                                             w.sql + " ORDER BY task, turns, complexity, sample",
                                         w.params));
  } else if (!pairs.empty()) {
    // The straightforward way: every result of either side of every pair, gathered by sample.
    // ?1 ... are the filters (w), then each pair's two sides.
    std::vector<QueryValue> args = w.params;
    std::string where = " WHERE j.sweep_id = ?1";
    if (!Param(p, "task").empty()) where += " AND j.task = ?2";
    if (!Param(p, "turns").empty()) where += " AND j.turns = ?" + std::to_string(args.size());
    std::string values;
    for (size_t k = 0; k < pairs.size(); ++k) {
      values += std::string(values.empty() ? "" : ", ") + "(" + std::to_string(k);
      for (int c = 1; c <= 4; ++c) values += ", ?" + std::to_string(args.size() + c);
      values += ")";
      args.insert(args.end(), {pairs[k].first.variant, pairs[k].first.method,
                               pairs[k].second.variant, pairs[k].second.method});
    }
    CS_ASSIGN_OR_RETURN(
        samples,
        db_->QueryRowsOf(
            "WITH p(k, va, ma, vb, mb) AS (VALUES " + values +
                "), side AS (SELECT p.k, 0 AS b, j.task, j.turns, j.complexity, j.sample,"
                " iif(r.correct, '1', '0') AS c FROM p JOIN jobs j ON j.variant_id = p.va AND"
                " j.method = p.ma JOIN results r ON r.job_id = j.id" +
                where +
                " UNION ALL SELECT p.k, 1, j.task, j.turns, j.complexity, j.sample,"
                " iif(r.correct, '1', '0') FROM p JOIN jobs j ON j.variant_id = p.vb AND"
                " j.method = p.mb JOIN results r ON r.job_id = j.id" +
                where +
                ") SELECT task, turns, complexity, sample, k, max(iif(b, ' ', c)) AS x,"
                " max(iif(b, c, ' ')) AS y FROM side GROUP BY task, turns, complexity, sample, k"
                " ORDER BY task, turns, complexity, sample, k",
            args));
  }
  // Every row (sample index, pair, x, y) in order, to `fn`.
  auto visit = [&](auto&& fn) {
    for (size_t i = 0; i < samples.rows.size(); ++i) {
      const auto& r = samples.rows[i];
      if (!kept) {
        fn(i, static_cast<size_t>(std::get<int64_t>(r.at(4))), std::get<std::string>(r.at(5)).at(0),
           std::get<std::string>(r.at(6)).at(0));
        continue;
      }
      const std::string& o = std::get<std::string>(r.at(4));
      auto of = [&](size_t pos) { return pos == 0 || pos > o.size() ? ' ' : o[pos - 1]; };
      for (size_t k = 0; k < pairs.size(); ++k) {
        const char x = of(at[k].first), y = of(at[k].second);
        if (x != ' ' || y != ' ') fn(i, k, x, y);
      }
    }
  };
  int64_t both = 0, only_a = 0, only_b = 0, neither = 0, a_finished = 0, b_finished = 0;
  visit([&](size_t, size_t, char x, char y) {
    if (x == ' ') {
      ++b_finished;
    } else if (y == ' ') {
      ++a_finished;
    } else {
      (x == '1' ? (y == '1' ? both : only_a) : (y == '1' ? only_b : neither)) += 1;
    }
  });
  const int64_t disagree = only_a + only_b + a_finished + b_finished;
  const int64_t rows = disagree + both + neither;
  // The page: rows [offset, offset + kComparePage) of the disagreements, then the agreements.
  const int64_t offset = IntParam(p, "offset", 0);
  std::vector<std::pair<size_t, size_t>> shown;  // (sample index, pair)
  for (int agreeing = 0; agreeing < 2; ++agreeing) {
    int64_t index = agreeing ? disagree : 0;
    visit([&](size_t i, size_t k, char x, char y) {
      if ((x == y) != static_cast<bool>(agreeing)) return;
      if (index >= offset && static_cast<int64_t>(shown.size()) < kComparePage) {
        shown.push_back({i, k});
      }
      ++index;
    });
  }
  json list = json::array();
  if (!shown.empty()) {
    // The page's cells, each a seek in jobs_view_pair and one result read.
    std::vector<QueryValue> args = {sweep_id};
    std::string values;
    for (size_t n = 0; n < shown.size(); ++n) {
      const auto& r = samples.rows[shown[n].first];
      const auto& [sa, sb] = pairs[shown[n].second];
      std::string row = "(" + std::to_string(n);
      for (int c = 0; c < 8; ++c) row += ", ?" + std::to_string(args.size() + 1 + c);
      values += (values.empty() ? "" : ", ") + row + ")";
      args.insert(args.end(), {r.at(0), r.at(2), r.at(3), r.at(1), sa.variant, sa.method,
                               sb.variant, sb.method});
    }
    CS_ASSIGN_OR_RETURN(
        QueryRows cells,
        db_->QueryRowsOf(
            "WITH page(n, task, complexity, sample, turns, va, ma, vb, mb) AS (VALUES " + values +
                ") SELECT page.task, page.complexity, page.sample, page.turns,"
                " ja.id AS a_id, ja.state AS a_state, ra.correct AS a_correct,"
                " substr(ra.final_answer, 1, 80) AS a_answer, jb.id AS b_id, jb.state AS b_state,"
                " rb.correct AS b_correct, substr(rb.final_answer, 1, 80) AS b_answer FROM page"
                " LEFT JOIN jobs ja ON ja.sweep_id = ?1 AND ja.task = page.task AND"
                " ja.complexity = page.complexity AND ja.sample = page.sample AND"
                " ja.turns = page.turns AND ja.method = page.ma AND ja.variant_id = page.va"
                " LEFT JOIN results ra ON ra.job_id = ja.id"
                " LEFT JOIN jobs jb ON jb.sweep_id = ?1 AND jb.task = page.task AND"
                " jb.complexity = page.complexity AND jb.sample = page.sample AND"
                " jb.turns = page.turns AND jb.method = page.mb AND jb.variant_id = page.vb"
                " LEFT JOIN results rb ON rb.job_id = jb.id ORDER BY page.n",
            args));
    list = RowsJson(cells);
    for (size_t n = 0; n < list.size() && n < shown.size(); ++n) {
      const auto& [sa, sb] = pairs[shown[n].second];
      list[n]["variant_id"] = sa.variant;
      list[n]["model"] = ModelOf(sa.variant);
      list[n]["method"] = sa.method;
      list[n]["b_model"] = ModelOf(sb.variant);
      list[n]["b_method"] = sb.method;
    }
  }
  json counts = {{"pairs", both + only_a + only_b + neither},
                 {"both_correct", both},
                 {"only_a", only_a},
                 {"only_b", only_b},
                 {"neither", neither},
                 {"only_a_finished", a_finished},
                 {"only_b_finished", b_finished},
                 {"disagree", disagree}};
  return Dump(json{{"pairs", std::move(list)},
                   {"counts", std::move(counts)},
                   {"rows", rows},
                   {"offset", offset},
                   {"page_size", kComparePage}});
}

Result<std::string> ViewApi::Errors(const Params& p) {
  const std::string sweep = Param(p, "sweep");
  Where w;
  w.Add("j.state IN ('failed', 'dead')");
  if (!sweep.empty()) w.Add("j.sweep_id = ?", SweepId(sweep));
  // Since 0019 the partial index of failed and dead jobs holds every column this reads, so the
  // groups come from it alone; SQLite, which has no statistics here, would rather walk every job
  // of the sweep through jobs_report for its group order, hence INDEXED BY.
  CS_ASSIGN_OR_RETURN(bool covering, HasIndexColumn("jobs_unfinished_error", "task"));
  CS_ASSIGN_OR_RETURN(
      QueryRows rows,
      db_->QueryRowsOf(std::string("SELECT s.name AS sweep, s.source_path, j.variant_id, j.task,"
                                   " j.method, j.state, j.last_error AS error, count(*) AS cells,"
                                   " min(j.id) AS first_id FROM jobs j") +
                           (covering ? " INDEXED BY jobs_unfinished_error" : "") +
                           " JOIN sweeps s ON s.id = j.sweep_id" + w.sql +
                           " GROUP BY j.sweep_id, j.variant_id, j.task, j.method, j.state,"
                           " j.last_error ORDER BY cells DESC, first_id LIMIT 1000",
                       w.params));
  json groups = RowsJson(rows);
  for (json& g : groups) {
    g["model"] = ModelOf(g["variant_id"].get<int64_t>());
    const std::string file = g["source_path"].get<std::string>();
    g["retry"] = "codesweep retry " + ShellQuote(file.empty() ? "SWEEP.toml" : file) + " --db " +
                 ShellQuote(db_path_) + " --state " + g["state"].get<std::string>() + " --task " +
                 ShellQuote(g["task"].get<std::string>()) + " --model " +
                 ShellQuote(g["model"].get<std::string>()) + " --method " +
                 ShellQuote(g["method"].get<std::string>());
  }
  return Dump(json{{"groups", groups}});
}

}  // namespace codesweep::view
