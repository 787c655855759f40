// Store: explicit retry of failed and dead cells, and what budgets read and write.
#include <string>
#include <utility>
#include <vector>

#include "coordinator/store/store.h"
#include "coordinator/store/store_impl.h"

namespace codesweep {

using store_internal::Stmt;

namespace {

// The cells a RetryFilter matches: ?1 sweep, ?2 task, ?3 model, ?4 method, ?5 error text, ?6 and
// ?7 the states. One literal, as the statement cache keys on the SQL's address.
#define CS_RETRY_WHERE                                                         \
  " WHERE sweep_id = ?1 AND state IN (?6, ?7) AND (?2 = '' OR task = ?2)"      \
  " AND (?3 = '' OR variant_id IN (SELECT id FROM variants WHERE model = ?3))" \
  " AND (?4 = '' OR method = ?4) AND (?5 = '' OR instr(lower(last_error), lower(?5)) > 0)"

// Only states the one transition table lets a user send back to pending (failed, dead).
Status CheckStates(const RetryFilter& filter) {
  if (filter.states.empty() || filter.states.size() > 2) {
    return Status::InvalidArgument("retry takes one or two states (failed, dead)");
  }
  for (JobState s : filter.states) {
    if (!IsLegalTransition(s, JobState::kPending) || s == JobState::kLeased) {
      return Status::InvalidArgument(Str("cells that are ", JobStateName(s),
                                         " cannot be retried (only failed and dead ones)"));
    }
  }
  return Status::OK();
}

void BindFilter(Stmt& stmt, int64_t sweep_id, const RetryFilter& f) {
  stmt.Bind(1, sweep_id).Bind(2, f.task).Bind(3, f.model).Bind(4, f.method).Bind(5, f.error_like);
  stmt.Bind(6, JobStateName(f.states.front())).Bind(7, JobStateName(f.states.back()));
}

}  // namespace

Result<int64_t> Store::CountRetryable(int64_t sweep_id, const RetryFilter& filter) {
  CS_RETURN_IF_ERROR(CheckStates(filter));
  CS_ASSIGN_OR_RETURN(Stmt stmt, impl_->db->Prepare("SELECT count(*) FROM jobs" CS_RETRY_WHERE));
  BindFilter(stmt, sweep_id, filter);
  CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.Int(0) : 0;
}

Result<int64_t> Store::RetryCells(int64_t sweep_id, const RetryFilter& filter) {
  CS_RETURN_IF_ERROR(CheckStates(filter));
  const int64_t now = Impl::WallMs();
  Result<int64_t> n = impl_->Atomic([&]() -> Result<int64_t> {
    CS_ASSIGN_OR_RETURN(
        Stmt stmt,
        impl_->db->Prepare("UPDATE jobs SET state = 'pending',"
                           " attempts = 0, not_before_ms = 0,"
                           " retry_floor = lease_token, updated_ms = ?8" CS_RETRY_WHERE));
    BindFilter(stmt, sweep_id, filter);
    stmt.Bind(8, now);
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
  CS_ASSIGN_OR_RETURN(
      Stmt stmt,
      impl_->db->Prepare("SELECT v.model, count(*) FROM jobs j"
                         " JOIN variants v ON v.id = j.variant_id"
                         " WHERE j.sweep_id = ?1"
                         " AND j.state IN ('pending', 'leased', 'parked') GROUP BY v.model"));
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
