// Store: the rate_limits table (live limiter state written by the coordinator, read by status).
#include "coordinator/store/store.h"
#include "coordinator/store/store_impl.h"

namespace codesweep {

using store_internal::Stmt;

Status Store::PutRateLimits(const std::vector<RateLimitRow>& rows) {
  if (rows.empty()) return Status::OK();
  return impl_->Atomic([&]() -> Status {
    for (const RateLimitRow& r : rows) {
      CS_ASSIGN_OR_RETURN(
          Stmt stmt,
          impl_->db->Prepare(
              "INSERT OR REPLACE INTO rate_limits (provider, model, key_alias, rpm, tpm,"
              " input_tpm, output_tpm, requests_available, tokens_available, in_flight, cap,"
              " max_concurrency, queued, granted, ok, rate_limited, cooldown_ms, updated_ms,"
              " est_ratio, input_share, learned_samples)"
              " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
              " ?17, ?18, ?19, ?20, ?21)"));
      stmt.Bind(1, r.provider).Bind(2, r.model).Bind(3, r.key_alias);
      stmt.Bind(4, r.rpm).Bind(5, r.tpm).Bind(6, r.input_tpm).Bind(7, r.output_tpm);
      stmt.Bind(8, r.requests_available).Bind(9, r.tokens_available);
      stmt.Bind(10, r.in_flight).Bind(11, r.cap).Bind(12, r.max_concurrency).Bind(13, r.queued);
      stmt.Bind(14, r.granted).Bind(15, r.ok).Bind(16, r.rate_limited);
      stmt.Bind(17, r.cooldown_ms).Bind(18, r.updated_ms);
      stmt.Bind(19, r.est_ratio).Bind(20, r.input_share).Bind(21, r.learned_samples);
      CS_RETURN_IF_ERROR(stmt.Run());
    }
    return Status::OK();
  });
}

Result<std::vector<RateLimitRow>> Store::RateLimits() {
  CS_ASSIGN_OR_RETURN(
      Stmt stmt,
      impl_->db->Prepare("SELECT provider, model, key_alias, rpm, tpm, input_tpm, output_tpm,"
                         " requests_available, tokens_available, in_flight, cap, max_concurrency,"
                         " queued, granted, ok, rate_limited, cooldown_ms, updated_ms"
                         " FROM rate_limits ORDER BY provider, model, key_alias"));
  std::vector<RateLimitRow> out;
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    RateLimitRow r;
    r.provider = stmt.Text(0);
    r.model = stmt.Text(1);
    r.key_alias = stmt.Text(2);
    r.rpm = stmt.Double(3);
    r.tpm = stmt.Double(4);
    r.input_tpm = stmt.Double(5);
    r.output_tpm = stmt.Double(6);
    r.requests_available = stmt.Double(7);
    r.tokens_available = stmt.Double(8);
    r.in_flight = stmt.Int(9);
    r.cap = stmt.Int(10);
    r.max_concurrency = stmt.Int(11);
    r.queued = stmt.Int(12);
    r.granted = stmt.Int(13);
    r.ok = stmt.Int(14);
    r.rate_limited = stmt.Int(15);
    r.cooldown_ms = stmt.Int(16);
    r.updated_ms = stmt.Int(17);
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<RateLimitRow>> Store::LearnedRateLimits() {
  CS_ASSIGN_OR_RETURN(
      Stmt stmt, impl_->db->Prepare("SELECT provider, model, key_alias, est_ratio, input_share,"
                                    " learned_samples FROM rate_limits WHERE learned_samples > 0"
                                    " ORDER BY provider, model, key_alias"));
  std::vector<RateLimitRow> out;
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    RateLimitRow r;
    r.provider = stmt.Text(0);
    r.model = stmt.Text(1);
    r.key_alias = stmt.Text(2);
    r.est_ratio = stmt.Double(3);
    r.input_share = stmt.Double(4);
    r.learned_samples = stmt.Int(5);
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<std::pair<int64_t, int64_t>>> Store::UnfinishedByVariant(int64_t sweep_id) {
  // view_states counts a leased cell among the pending ones (0020_view_states_newtable.sql).
  CS_ASSIGN_OR_RETURN(Stmt stmt,
                      impl_->db->Prepare("SELECT variant_id, sum(n) FROM view_states"
                                         " WHERE state = 'pending' AND (?1 = 0 OR sweep_id = ?1)"
                                         " GROUP BY variant_id"));
  stmt.Bind(1, sweep_id);
  std::vector<std::pair<int64_t, int64_t>> out;
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    out.emplace_back(stmt.Int(0), stmt.Int(1));
  }
  return out;
}

}  // namespace codesweep
