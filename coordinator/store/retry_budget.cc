// Store: explicit retry of failed and dead cells, and what budgets read and write.
#include <string>
#include <utility>
#include <vector>

#include "coordinator/store/store.h"
#include "coordinator/store/store_impl.h"

namespace codesweep {

using store_internal::Stmt;

namespace {

// The WHERE clause of the cells `filter` matches: ?1 sweep, ?2 task, ?3 model, ?4 method,
// ?5 error text. The states come from the one transition table, so only legal ones get in.
Result<std::string> RetryWhere(const RetryFilter& filter) {
  if (filter.states.empty()) return Status::InvalidArgument("no state to retry");
  std::string states;
  for (JobState s : filter.states) {
    if (!IsLegalTransition(s, JobState::kPending) || s == JobState::kLeased) {
      return Status::InvalidArgument(Str("cells that are ", JobStateName(s),
                                         " cannot be retried (only failed and dead ones)"));
    }
    states += Str(states.empty() ? "'" : ", '", JobStateName(s), "'");
  }
  return Str(" WHERE sweep_id = ?1 AND state IN (", states,
             ") AND (?2 = '' OR task = ?2)"
             " AND (?3 = '' OR variant_id IN (SELECT id FROM variants WHERE model = ?3))"
             " AND (?4 = '' OR method = ?4)"
             " AND (?5 = '' OR instr(lower(last_error), lower(?5)) > 0)");
}

void BindFilter(Stmt& stmt, int64_t sweep_id, const RetryFilter& f) {
  stmt.Bind(1, sweep_id).Bind(2, f.task).Bind(3, f.model).Bind(4, f.method).Bind(5, f.error_like);
}

}  // namespace

Result<int64_t> Store::CountRetryable(int64_t sweep_id, const RetryFilter& filter) {
  CS_ASSIGN_OR_RETURN(std::string where, RetryWhere(filter));
  CS_ASSIGN_OR_RETURN(Stmt stmt, impl_->db->Prepare("SELECT count(*) FROM jobs" + where));
  BindFilter(stmt, sweep_id, filter);
  CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.Int(0) : 0;
}

Result<int64_t> Store::RetryCells(int64_t sweep_id, const RetryFilter& filter) {
  CS_ASSIGN_OR_RETURN(std::string where, RetryWhere(filter));
  const int64_t now = Impl::WallMs();
  Result<int64_t> n = impl_->Atomic([&]() -> Result<int64_t> {
    CS_ASSIGN_OR_RETURN(Stmt stmt, impl_->db->Prepare("UPDATE jobs SET state = 'pending',"
                                                      " attempts = 0, not_before_ms = 0,"
                                                      " retry_floor = lease_token, updated_ms = ?6" +
                                                      where));
    BindFilter(stmt, sweep_id, filter);
    stmt.Bind(6, now);
    CS_RETURN_IF_ERROR(stmt.Run());
    return static_cast<int64_t>(stmt.Changes());
  });
  if (!n.ok()) return n;
  CS_RETURN_IF_ERROR(Commit());
  return n;
}

Result<std::vector<ModelSpend>> Store::SpendByModel(int64_t sweep_id) {
  CS_ASSIGN_OR_RETURN(
      Stmt stmt,
      impl_->db->Prepare("SELECT v.model, total(c.cost_usd), total(c.tokens_in + c.tokens_out)"
                         " FROM calls c JOIN jobs j ON j.id = c.job_id"
                         " JOIN variants v ON v.id = j.variant_id"
                         " WHERE j.sweep_id = ?1 AND c.cached = 0 GROUP BY v.model"));
  stmt.Bind(1, sweep_id);
  std::vector<ModelSpend> out;
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    out.push_back({stmt.Text(0), stmt.Double(1), static_cast<int64_t>(stmt.Double(2))});
  }
  return out;
}

Result<std::vector<std::pair<std::string, int64_t>>> Store::UnfinishedByModel(int64_t sweep_id) {
  CS_ASSIGN_OR_RETURN(Stmt stmt,
                      impl_->db->Prepare("SELECT v.model, count(*) FROM jobs j"
                                         " JOIN variants v ON v.id = j.variant_id"
                                         " WHERE j.sweep_id = ?1"
                                         " AND j.state IN ('pending', 'leased') GROUP BY v.model"));
  stmt.Bind(1, sweep_id);
  std::vector<std::pair<std::string, int64_t>> out;
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    out.emplace_back(stmt.Text(0), stmt.Int(1));
  }
  return out;
}

Status Store::SetStopReason(int64_t sweep_id, const std::string& reason) {
  return impl_->Atomic([&]() -> Status {
    CS_ASSIGN_OR_RETURN(Stmt stmt, impl_->db->Prepare("UPDATE sweeps SET stop_reason = ?2"
                                                      " WHERE id = ?1 AND stop_reason != ?2"));
    stmt.Bind(1, sweep_id).Bind(2, reason);
    return stmt.Run();
  });
}

}  // namespace codesweep
