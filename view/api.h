// ViewApi: the JSON endpoints of `codesweep view` (/api/*), over one read-only ReportDb. Each
// endpoint is a few SQL statements against the store and the report's views (report/sql); the
// model settings of the grid (v_setting) are cached until the jobs table grows. Owned by the
// server; called on its one thread. Answers are JSON text, never HTML: the page escapes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "coordinator/store/report_queries.h"

namespace codesweep::view {

// Decoded query-string parameters (the last of a repeated name wins).
using Params = std::map<std::string, std::string>;
Params ParseQuery(const std::string& query);
std::string PercentDecode(const std::string& s, bool plus_is_space);

struct ApiAnswer {
  int status = 200;
  std::string json;
};

class ViewApi {
 public:
  // `db_path` is shown in the retry commands of the Errors page.
  ViewApi(std::unique_ptr<ReportDb> db, std::string db_path);
  ~ViewApi();

  // `name` is the path after "/api/" ("sweeps", "cells", ...). Unknown names get 404.
  ApiAnswer Handle(const std::string& name, const Params& params);

 private:
  struct Setting {
    int64_t sweep_id = 0, variant_id = 0;
    std::string sweep, model;  // model: the setting label of v_setting
  };
  ApiAnswer Route(const std::string& name, const Params& params);
  Status RefreshSettings();
  Result<bool> HasColumn(const std::string& table, const std::string& column);
  // Whether the database has the table or index (a writer may add it while the viewer runs: only
  // a yes is kept).
  Result<bool> HasTable(const std::string& name);
  std::string ModelOf(int64_t variant_id) const;
  // The variant ids of `sweep` (empty = all) whose setting label is `model` (empty = all).
  std::vector<int64_t> VariantIds(const std::string& sweep, const std::string& model) const;
  int64_t SweepId(const std::string& sweep) const;

  // Whether index `index` has column `column` (cached).
  Result<bool> HasIndexColumn(const std::string& index, const std::string& column);
  // The FTS5 query for the words of a search ("" when it has none; see SearchQuery in api.cc).
  Result<std::string> SearchQuery(const std::string& text);
  // The cell list's count of matches read from the writer-kept counts (view_states, view_grain),
  // exact; nullopt when the filters ask for more than those counts hold.
  Result<std::optional<int64_t>> KeptCount(const Params& p);
  Result<int64_t> Count(const std::string& sql, const std::vector<QueryValue>& params);
  Result<nlohmann::json> SweepStates(int64_t sweep_id, bool only_sweep);
  Result<std::string> Sweeps();
  Result<std::string> Filters(const Params& p);
  Result<std::string> Cells(const Params& p);
  Result<std::string> Cell(const Params& p);
  Result<std::string> Results(const Params& p);
  Result<std::string> ResultsFromGrain(const Params& p);
  Result<std::string> Compare(const Params& p);
  Result<std::string> Errors(const Params& p);

  std::unique_ptr<ReportDb> db_;
  std::string db_path_;
  std::vector<Setting> settings_;
  std::map<std::string, int64_t> sweep_ids_;
  int64_t settings_key_ = -1;  // max(jobs.id) when settings_ was read
  std::map<std::string, bool> columns_;
  std::map<std::string, bool> tables_;  // only the tables found
  std::optional<bool> vocab_;           // the TEMP fts5vocab tables of the search indexes
  std::string results_cache_key_, results_cache_;
  std::map<std::string, std::string> filters_cache_;
  std::map<int64_t, int64_t> totals_;  // cells by sweep id; cleared with settings_
  nlohmann::json cost_;                // the calls' cost and 429s by sweep, as of cost_at_ms_
  int64_t cost_at_ms_ = 0;             // wall clock
  int64_t results_at_ms_ = 0;          // by sweep; cleared with settings_
  std::string sweeps_cache_;           // the last /api/sweeps answer,
  int64_t sweeps_version_ = -1;        // at this PRAGMA data_version
  int64_t sweeps_at_ms_ = 0;           // and this wall clock
};

}  // namespace codesweep::view
