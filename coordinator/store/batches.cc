// Store: batch mode (docs/batch.md): queued and sent batch requests, provider batches, parked
// cells and the executions their next run replays.
#include <nlohmann/json.hpp>
#include <string>

#include "coordinator/store/store.h"
#include "coordinator/store/store_impl.h"

namespace codesweep {

using store_internal::Stmt;

namespace {

using nlohmann::json;

BatchRow ReadBatch(const Stmt& s) {
  BatchRow b;
  b.id = s.Int(0);
  b.provider = s.Text(1);
  b.model = s.Text(2);
  b.key_alias = s.Text(3);
  b.base_url = s.Text(4);
  b.api_key_env = s.Text(5);
  b.sweep_id = s.Int(6);
  b.provider_id = s.Text(7);
  b.input_file_id = s.Text(8);
  b.state = s.Text(9);
  b.n_requests = s.Int(10);
  b.n_done = s.Int(11);
  b.n_failed = s.Int(12);
  b.bytes = s.Int(13);
  b.est_tokens = s.Int(14);
  b.cost_usd = s.Double(15);
  b.error = s.Text(16);
  b.created_ms = s.Int(17);
  b.updated_ms = s.Int(18);
  b.ended_ms = s.Int(19);
  b.next_poll_ms = s.Int(20);
  b.variant_id = s.Int(21);
  b.cancel_requested_ms = s.Int(22);
  b.sync_cost_usd = s.Double(23);
  return b;
}

// Every column of batches, in ReadBatch's order. A literal (undefined at the end of the file):
// statements are cached by the address of their text, so each query is one whole literal.
#define CS_BATCH_SELECT                                                                      \
  "SELECT id, provider, model, key_alias, base_url, api_key_env, sweep_id, provider_id,"     \
  " input_file_id, state, n_requests, n_done, n_failed, bytes, est_tokens, cost_usd, error," \
  " created_ms, updated_ms, ended_ms, next_poll_ms, variant_id, cancel_requested_ms,"        \
  " sync_cost_usd FROM batches"

Result<std::vector<BatchRow>> ReadBatches(Stmt& s) {
  std::vector<BatchRow> out;
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(ReadBatch(s));
  }
  return out;
}

Result<bool> BatchTableExists(store_internal::StoreDb& db, const char* name) {
  CS_ASSIGN_OR_RETURN(Stmt has, db.Prepare("SELECT 1 FROM sqlite_master WHERE type = 'table'"
                                           " AND name = ?1"));
  return has.Bind(1, name).Step();
}

// The requests still sent in `batch_id` go back to the queue; returns how many.
Result<int64_t> RequeueSent(store_internal::StoreDb& db, int64_t batch_id, int64_t now_ms) {
  CS_ASSIGN_OR_RETURN(Stmt s,
                      db.Prepare("UPDATE batch_requests SET state = 'queued', batch_id = 0,"
                                 " updated_ms = ?2 WHERE batch_id = ?1 AND state = 'sent'"));
  CS_RETURN_IF_ERROR(s.Bind(1, batch_id).Bind(2, now_ms).Run());
  return static_cast<int64_t>(s.Changes());
}

// Cells parked on the given ended call become pending; their waits are answered.
Status UnparkKey(store_internal::StoreDb& db, const std::string& call_key, int64_t now_ms,
                 int64_t* unparked) {
  CS_ASSIGN_OR_RETURN(Stmt jobs, db.Prepare("UPDATE jobs SET state = 'pending', not_before_ms = 0,"
                                            " updated_ms = ?2 WHERE state = 'parked' AND id IN"
                                            " (SELECT job_id FROM batch_waits WHERE call_key = ?1"
                                            " AND answered = 0)"));
  CS_RETURN_IF_ERROR(jobs.Bind(1, call_key).Bind(2, now_ms).Run());
  *unparked += jobs.Changes();
  CS_ASSIGN_OR_RETURN(Stmt waits, db.Prepare("UPDATE batch_waits SET answered = 1"
                                             " WHERE call_key = ?1 AND answered = 0"));
  return waits.Bind(1, call_key).Run();
}

// A request of a batch the user cancelled: forgotten (a later run of its cells queues it anew);
// the cells parked on it end failed with `error`.
Status ForgetCancelledKey(store_internal::StoreDb& db, const std::string& call_key,
                          const std::string& error, int64_t now_ms, int64_t* failed) {
  CS_ASSIGN_OR_RETURN(Stmt jobs, db.Prepare("UPDATE jobs SET state = 'failed', last_error = ?3,"
                                            " updated_ms = ?2 WHERE state = 'parked' AND id IN"
                                            " (SELECT job_id FROM batch_waits WHERE call_key = ?1"
                                            " AND answered = 0)"));
  CS_RETURN_IF_ERROR(jobs.Bind(1, call_key).Bind(2, now_ms).Bind(3, error).Run());
  *failed += jobs.Changes();
  CS_ASSIGN_OR_RETURN(Stmt waits, db.Prepare("DELETE FROM batch_waits"
                                             " WHERE call_key = ?1 AND answered = 0"));
  CS_RETURN_IF_ERROR(waits.Bind(1, call_key).Run());
  CS_ASSIGN_OR_RETURN(Stmt req, db.Prepare("DELETE FROM batch_requests WHERE call_key = ?1"));
  return req.Bind(1, call_key).Run();
}

}  // namespace

Result<std::string> ExecutionsToJson(const std::vector<ExecutionRecord>& executions) {
  json out = json::array();
  for (const ExecutionRecord& e : executions) {
    out.push_back({{"index", e.index},
                   {"turn", e.turn},
                   {"code", e.code},
                   {"status", e.status},
                   {"exit_code", e.exit_code},
                   {"signal", e.signal},
                   {"wall_ms", e.wall_ms},
                   {"cpu_ms", e.cpu_ms},
                   {"peak_rss_kb", e.peak_rss_kb},
                   {"stdout", e.stdout_text},
                   {"stderr", e.stderr_text},
                   {"stdout_truncated", e.stdout_truncated},
                   {"stderr_truncated", e.stderr_truncated},
                   {"tier", e.tier}});
  }
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<std::vector<ExecutionRecord>> ExecutionsFromJson(const std::string& text) {
  json in = json::parse(text, nullptr, false);
  if (!in.is_array()) return Status::Corruption("cell_executions: not a JSON array");
  std::vector<ExecutionRecord> out;
  try {
    for (const json& j : in) {
      ExecutionRecord e;
      e.index = j.at("index").get<int>();
      e.turn = j.at("turn").get<int>();
      e.code = j.at("code").get<std::string>();
      e.status = j.at("status").get<std::string>();
      e.exit_code = j.at("exit_code").get<int>();
      e.signal = j.at("signal").get<int>();
      e.wall_ms = j.at("wall_ms").get<int64_t>();
      e.cpu_ms = j.at("cpu_ms").get<int64_t>();
      e.peak_rss_kb = j.at("peak_rss_kb").get<int64_t>();
      e.stdout_text = j.at("stdout").get<std::string>();
      e.stderr_text = j.at("stderr").get<std::string>();
      e.stdout_truncated = j.at("stdout_truncated").get<bool>();
      e.stderr_truncated = j.at("stderr_truncated").get<bool>();
      e.tier = j.at("tier").get<std::string>();
      out.push_back(std::move(e));
    }
  } catch (const json::exception& e) {
    return Status::Corruption(std::string("cell_executions: ") + e.what());
  }
  return out;
}

Result<bool> Store::QueueBatchRequest(const BatchRequestRow& r) {
  const int64_t now = Impl::WallMs();
  return impl_->Atomic([&]() -> Result<bool> {
    CS_ASSIGN_OR_RETURN(Stmt stmt,
                        impl_->db->Prepare("INSERT OR IGNORE INTO batch_requests (call_key,"
                                           " provider, model, key_alias, sweep_id, variant_id,"
                                           " body, est_tokens, queued_ms, updated_ms) VALUES"
                                           " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)"));
    stmt.Bind(1, r.call_key)
        .Bind(2, r.provider)
        .Bind(3, r.model)
        .Bind(4, r.key_alias)
        .Bind(5, r.sweep_id)
        .Bind(6, r.variant_id)
        .Bind(7, r.body)
        .Bind(8, r.est_tokens)
        .Bind(9, r.queued_ms != 0 ? r.queued_ms : now);
    CS_RETURN_IF_ERROR(stmt.Run());
    return stmt.Changes() > 0;
  });
}

Result<std::optional<BatchRequestRow>> Store::GetBatchRequest(const std::string& call_key) {
  CS_ASSIGN_OR_RETURN(Stmt s, impl_->db->Prepare("SELECT provider, model, key_alias, sweep_id,"
                                                 " variant_id, est_tokens, state, batch_id, tries,"
                                                 " http_status, error, queued_ms FROM"
                                                 " batch_requests WHERE call_key = ?1"));
  s.Bind(1, call_key);
  CS_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<BatchRequestRow>();
  BatchRequestRow r;
  r.call_key = call_key;
  r.provider = s.Text(0);
  r.model = s.Text(1);
  r.key_alias = s.Text(2);
  r.sweep_id = s.Int(3);
  r.variant_id = s.Int(4);
  r.est_tokens = s.Int(5);
  r.state = s.Text(6);
  r.batch_id = s.Int(7);
  r.tries = static_cast<int>(s.Int(8));
  r.http_status = static_cast<int>(s.Int(9));
  r.error = s.Text(10);
  r.queued_ms = s.Int(11);
  return std::optional<BatchRequestRow>(std::move(r));
}

Result<bool> Store::IsBatchAnswer(JobId job, const std::string& call_key) {
  CS_ASSIGN_OR_RETURN(Stmt s, impl_->db->Prepare("SELECT answered FROM batch_waits"
                                                 " WHERE job_id = ?1 AND call_key = ?2"));
  s.Bind(1, job.value()).Bind(2, call_key);
  CS_ASSIGN_OR_RETURN(bool row, s.Step());
  return row && s.Int(0) != 0;
}

Result<std::vector<BatchQueueRow>> Store::BatchQueues() {
  CS_ASSIGN_OR_RETURN(Stmt s,
                      impl_->db->Prepare("SELECT provider, model, key_alias, max(variant_id),"
                                         " count(*), sum(length(body) + length(call_key)),"
                                         " sum(est_tokens), min(queued_ms) FROM batch_requests"
                                         " WHERE state = 'queued'"
                                         " GROUP BY provider, model, key_alias"));
  std::vector<BatchQueueRow> out;
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    BatchQueueRow q;
    q.provider = s.Text(0);
    q.model = s.Text(1);
    q.key_alias = s.Text(2);
    q.variant_id = s.Int(3);
    q.n = s.Int(4);
    q.bytes = s.Int(5);
    q.est_tokens = s.Int(6);
    q.oldest_ms = s.Int(7);
    out.push_back(std::move(q));
  }
  return out;
}

Result<std::vector<BatchRequestRow>> Store::QueuedBatchRequests(const std::string& provider,
                                                                const std::string& model,
                                                                const std::string& key_alias,
                                                                int64_t limit) {
  CS_ASSIGN_OR_RETURN(Stmt s, impl_->db->Prepare("SELECT call_key, sweep_id, variant_id, body,"
                                                 " est_tokens, tries, queued_ms FROM batch_requests"
                                                 " WHERE state = 'queued' AND provider = ?1 AND"
                                                 " model = ?2 AND key_alias = ?3"
                                                 " ORDER BY queued_ms, call_key LIMIT ?4"));
  s.Bind(1, provider).Bind(2, model).Bind(3, key_alias).Bind(4, limit);
  std::vector<BatchRequestRow> out;
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    BatchRequestRow r;
    r.call_key = s.Text(0);
    r.provider = provider;
    r.model = model;
    r.key_alias = key_alias;
    r.sweep_id = s.Int(1);
    r.variant_id = s.Int(2);
    r.body = s.Text(3);
    r.est_tokens = s.Int(4);
    r.tries = static_cast<int>(s.Int(5));
    r.queued_ms = s.Int(6);
    out.push_back(std::move(r));
  }
  return out;
}

Result<int64_t> Store::CreateBatch(const BatchRow& b, const std::vector<std::string>& call_keys) {
  const int64_t now = Impl::WallMs();
  return impl_->Atomic([&]() -> Result<int64_t> {
    CS_ASSIGN_OR_RETURN(
        Stmt ins, impl_->db->Prepare("INSERT INTO batches (provider, model, key_alias, base_url,"
                                     " api_key_env, sweep_id, state, n_requests, bytes, est_tokens,"
                                     " created_ms, updated_ms, variant_id) VALUES (?1, ?2, ?3, ?4,"
                                     " ?5, ?6, 'creating', ?7, ?8, ?9, ?10, ?10, ?11)"));
    ins.Bind(1, b.provider)
        .Bind(2, b.model)
        .Bind(3, b.key_alias)
        .Bind(4, b.base_url)
        .Bind(5, b.api_key_env)
        .Bind(6, b.sweep_id)
        .Bind(7, static_cast<int64_t>(call_keys.size()))
        .Bind(8, b.bytes)
        .Bind(9, b.est_tokens)
        .Bind(10, b.created_ms != 0 ? b.created_ms : now)
        .Bind(11, b.variant_id);
    CS_RETURN_IF_ERROR(ins.Run());
    CS_ASSIGN_OR_RETURN(Stmt id, impl_->db->Prepare("SELECT last_insert_rowid()"));
    CS_ASSIGN_OR_RETURN(bool row, id.Step());
    if (!row) return Status::Internal("no rowid after inserting a batch");
    const int64_t batch_id = id.Int(0);
    CS_ASSIGN_OR_RETURN(Stmt sent, impl_->db->Prepare("UPDATE batch_requests SET state = 'sent',"
                                                      " batch_id = ?2, tries = tries + 1,"
                                                      " updated_ms = ?3 WHERE call_key = ?1"
                                                      " AND state = 'queued'"));
    for (const std::string& key : call_keys) {
      CS_RETURN_IF_ERROR(sent.Bind(1, key).Bind(2, batch_id).Bind(3, now).Run());
      sent.Reset();
    }
    return batch_id;
  });
}

Status Store::UpdateBatch(const BatchRow& b) {
  const int64_t now = Impl::WallMs();
  return impl_->Atomic([&]() -> Status {
    CS_ASSIGN_OR_RETURN(
        Stmt s, impl_->db->Prepare("UPDATE batches SET provider_id = ?2, input_file_id = ?3,"
                                   " state = ?4, n_done = ?5, n_failed = ?6, error = ?7,"
                                   " ended_ms = ?8, next_poll_ms = ?9, cost_usd = ?10,"
                                   " updated_ms = ?11, sync_cost_usd = ?12 WHERE id = ?1"));
    s.Bind(1, b.id)
        .Bind(2, b.provider_id)
        .Bind(3, b.input_file_id)
        .Bind(4, b.state)
        .Bind(5, b.n_done)
        .Bind(6, b.n_failed)
        .Bind(7, b.error)
        .Bind(8, b.ended_ms)
        .Bind(9, b.next_poll_ms)
        .Bind(10, b.cost_usd)
        .Bind(11, now)
        .Bind(12, b.sync_cost_usd);
    return s.Run();
  });
}

Result<std::vector<BatchRow>> Store::LiveBatches() {
  CS_ASSIGN_OR_RETURN(Stmt s,
                      impl_->db->Prepare(CS_BATCH_SELECT " WHERE state IN ('creating', 'submitted',"
                                                         " 'in_progress') ORDER BY id"));
  return ReadBatches(s);
}

Result<std::vector<BatchRow>> Store::ListBatches(int64_t sweep_id, int64_t limit) {
  // A read-only tool on a database without migration 0018: no batches.
  CS_ASSIGN_OR_RETURN(bool present, BatchTableExists(*impl_->db, "batches"));
  if (!present) return std::vector<BatchRow>();
  CS_ASSIGN_OR_RETURN(Stmt s, impl_->db->Prepare(CS_BATCH_SELECT " WHERE (?1 = 0 OR sweep_id = ?1)"
                                                                 " ORDER BY id DESC LIMIT ?2"));
  s.Bind(1, sweep_id).Bind(2, limit);
  return ReadBatches(s);
}

Result<int64_t> Store::RequeueBatchRequests(int64_t batch_id) {
  const int64_t now = Impl::WallMs();
  return impl_->Atomic([&]() -> Result<int64_t> { return RequeueSent(*impl_->db, batch_id, now); });
}

Result<int64_t> Store::FoldRefusedBatch(const BatchRow& b) {
  const int64_t now = Impl::WallMs();
  return impl_->Atomic([&]() -> Result<int64_t> {
    store_internal::StoreDb& db = *impl_->db;
    CS_ASSIGN_OR_RETURN(Stmt prev, db.Prepare("SELECT id, state FROM batches WHERE provider = ?1"
                                              " AND model = ?2 AND key_alias = ?3 AND"
                                              " sweep_id = ?4 AND id < ?5 ORDER BY id DESC"
                                              " LIMIT 1"));
    prev.Bind(1, b.provider)
        .Bind(2, b.model)
        .Bind(3, b.key_alias)
        .Bind(4, b.sweep_id)
        .Bind(5, b.id);
    CS_ASSIGN_OR_RETURN(bool row, prev.Step());
    if (!row || prev.Text(1) != "refused") return b.id;
    const int64_t into = prev.Int(0);
    CS_ASSIGN_OR_RETURN(Stmt held, db.Prepare("SELECT 1 FROM batch_requests WHERE batch_id = ?1"
                                              " LIMIT 1"));
    CS_ASSIGN_OR_RETURN(bool holds, held.Bind(1, b.id).Step());
    if (holds) return b.id;  // a request still names it (e.g. one too large for any batch)
    CS_ASSIGN_OR_RETURN(Stmt fold, db.Prepare("UPDATE batches SET refusals = refusals + 1,"
                                              " error = ?2, ended_ms = ?3, updated_ms = ?4"
                                              " WHERE id = ?1"));
    CS_RETURN_IF_ERROR(fold.Bind(1, into).Bind(2, b.error).Bind(3, b.ended_ms).Bind(4, now).Run());
    CS_ASSIGN_OR_RETURN(Stmt del, db.Prepare("DELETE FROM batches WHERE id = ?1"));
    CS_RETURN_IF_ERROR(del.Bind(1, b.id).Run());
    return into;
  });
}

Result<int64_t> Store::EndBatch(int64_t batch_id, const std::vector<BatchAnswer>& answers,
                                int64_t now_ms, bool user_cancelled,
                                const std::string& cancel_error, int64_t* cancelled_cells) {
  int64_t failed = 0;
  Result<int64_t> out = impl_->Atomic([&]() -> Result<int64_t> {
    store_internal::StoreDb& db = *impl_->db;
    int64_t unparked = 0;
    CS_ASSIGN_OR_RETURN(Stmt cache, db.Prepare("INSERT OR IGNORE INTO call_cache (call_key,"
                                               " provider, model, response_json, tokens_in,"
                                               " tokens_out, created_ms) VALUES (?1, ?2, ?3, ?4,"
                                               " ?5, ?6, ?7)"));
    CS_ASSIGN_OR_RETURN(Stmt end, db.Prepare("UPDATE batch_requests SET state = ?2,"
                                             " http_status = ?3, error = ?4, cost_usd = ?5,"
                                             " batch_id = CASE WHEN ?2 = 'queued' THEN 0 ELSE"
                                             " batch_id END, updated_ms = ?6 WHERE call_key = ?1"
                                             " AND batch_id = ?7 AND state = 'sent'"));
    for (const BatchAnswer& a : answers) {
      if (a.user_cancelled && !a.ok) {
        CS_ASSIGN_OR_RETURN(std::optional<BatchRequestRow> req, GetBatchRequest(a.call_key));
        if (!req || req->batch_id != batch_id || req->state != "sent") continue;
        CS_RETURN_IF_ERROR(ForgetCancelledKey(db, a.call_key, a.error, now_ms, &failed));
        continue;
      }
      std::string state = a.ok ? "done" : (a.resend ? "queued" : "failed");
      if (a.ok) {
        cache.Bind(1, a.call_key)
            .Bind(2, a.call.provider)
            .Bind(3, a.call.model)
            .Bind(4, a.call.response_json)
            .Bind(5, a.call.tokens_in)
            .Bind(6, a.call.tokens_out)
            .Bind(7, now_ms);
        CS_RETURN_IF_ERROR(cache.Run());
        cache.Reset();
      }
      end.Bind(1, a.call_key)
          .Bind(2, state)
          .Bind(3, a.http_status)
          .Bind(4, a.error)
          .Bind(5, a.cost_usd)
          .Bind(6, now_ms)
          .Bind(7, batch_id);
      CS_RETURN_IF_ERROR(end.Run());
      const bool changed = end.Changes() > 0;
      end.Reset();
      if (changed && state != "queued") {
        CS_RETURN_IF_ERROR(UnparkKey(db, a.call_key, now_ms, &unparked));
      }
    }
    if (user_cancelled) {  // the rest was not answered: forgotten, its cells failed
      CS_ASSIGN_OR_RETURN(Stmt rest, db.Prepare("SELECT call_key FROM batch_requests"
                                                " WHERE batch_id = ?1 AND state = 'sent'"));
      rest.Bind(1, batch_id);
      std::vector<std::string> keys;
      while (true) {
        CS_ASSIGN_OR_RETURN(bool row, rest.Step());
        if (!row) break;
        keys.push_back(rest.Text(0));
      }
      for (const std::string& key : keys) {
        CS_RETURN_IF_ERROR(ForgetCancelledKey(db, key, cancel_error, now_ms, &failed));
      }
      return unparked;
    }
    // Requests the provider's results did not mention are sent again.
    CS_RETURN_IF_ERROR(RequeueSent(db, batch_id, now_ms).status());
    return unparked;
  });
  if (out.ok() && cancelled_cells != nullptr) *cancelled_cells = failed;
  return out;
}

Result<std::vector<BatchRow>> Store::RequestBatchCancel(int64_t sweep_id, int64_t now_ms) {
  CS_RETURN_IF_ERROR(impl_->Atomic([&]() -> Status {
    CS_ASSIGN_OR_RETURN(Stmt s, impl_->db->Prepare("UPDATE batches SET cancel_requested_ms = ?2,"
                                                   " updated_ms = ?2 WHERE sweep_id = ?1 AND"
                                                   " cancel_requested_ms = 0 AND state IN"
                                                   " ('creating', 'submitted', 'in_progress')"));
    return s.Bind(1, sweep_id).Bind(2, now_ms).Run();
  }));
  CS_ASSIGN_OR_RETURN(std::vector<BatchRow> live, LiveBatches());
  std::vector<BatchRow> out;
  for (BatchRow& b : live) {
    if (b.sweep_id == sweep_id) out.push_back(std::move(b));
  }
  return out;
}

Result<int64_t> Store::CountQueuedBatchRequests(int64_t sweep_id) {
  // A read-only tool on a database without migration 0018: none.
  CS_ASSIGN_OR_RETURN(bool present, BatchTableExists(*impl_->db, "batch_requests"));
  if (!present) return int64_t{0};
  CS_ASSIGN_OR_RETURN(Stmt s,
                      impl_->db->Prepare("SELECT count(*) FROM batch_requests WHERE"
                                         " state = 'queued' AND (?1 = 0 OR sweep_id = ?1)"));
  s.Bind(1, sweep_id);
  CS_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

Result<int64_t> Store::UnparkAnswered() {
  const int64_t now = Impl::WallMs();
  return impl_->Atomic([&]() -> Result<int64_t> {
    store_internal::StoreDb& db = *impl_->db;
    CS_ASSIGN_OR_RETURN(Stmt keys, db.Prepare("SELECT DISTINCT w.call_key FROM batch_waits w"
                                              " JOIN jobs j ON j.id = w.job_id"
                                              " WHERE w.answered = 0 AND j.state = 'parked' AND"
                                              " (EXISTS (SELECT 1 FROM call_cache c WHERE"
                                              " c.call_key = w.call_key) OR EXISTS (SELECT 1 FROM"
                                              " batch_requests r WHERE r.call_key = w.call_key"
                                              " AND r.state IN ('done', 'failed')))"));
    std::vector<std::string> ended;
    while (true) {
      CS_ASSIGN_OR_RETURN(bool row, keys.Step());
      if (!row) break;
      ended.push_back(keys.Text(0));
    }
    int64_t unparked = 0;
    for (const std::string& key : ended) CS_RETURN_IF_ERROR(UnparkKey(db, key, now, &unparked));
    return unparked;
  });
}

Result<std::vector<ExecutionRecord>> Store::CellExecutions(JobId job) {
  CS_ASSIGN_OR_RETURN(Stmt s, impl_->db->Prepare("SELECT executions_json FROM cell_executions"
                                                 " WHERE job_id = ?1"));
  s.Bind(1, job.value());
  CS_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::vector<ExecutionRecord>();
  return ExecutionsFromJson(s.Text(0));
}

}  // namespace codesweep

#undef CS_BATCH_SELECT
