// Store: sweeps, variants and grid cells (the writes of grid expansion).
#include <nlohmann/json.hpp>

#include "base/hash.h"
#include "coordinator/store/store.h"
#include "coordinator/store/store_impl.h"

namespace codesweep {

using store_internal::Stmt;

namespace {

nlohmann::json GenToJson(const GenSettings& gen) {
  nlohmann::json j;
  j["temperature"] = gen.temperature;
  j["top_p"] = gen.top_p;
  j["max_tokens"] = gen.max_tokens;
  j["seed"] = gen.seed ? nlohmann::json(*gen.seed) : nlohmann::json(nullptr);
  j["stop"] = gen.stop;
  return j;
}

Result<GenSettings> GenFromJson(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::Corruption("variant gen_json is not a JSON object");
  try {
    GenSettings gen;
    gen.temperature = j.value("temperature", gen.temperature);
    gen.top_p = j.value("top_p", gen.top_p);
    gen.max_tokens = j.value("max_tokens", gen.max_tokens);
    if (j.contains("seed") && !j["seed"].is_null()) gen.seed = j["seed"].get<int64_t>();
    if (j.contains("stop")) gen.stop = j["stop"].get<std::vector<std::string>>();
    return gen;
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(std::string("variant gen_json: ") + e.what());
  }
}

std::string VariantHash(const VariantRecord& v, const std::string& gen_json) {
  nlohmann::json j;
  j["model"] = {{"id", v.model.id},
                {"provider", v.model.provider},
                {"name", v.model.name},
                {"options", v.model.options_json}};
  j["gen"] = gen_json;
  j["sandbox"] = v.sandbox_json;
  return Sha256Hex(j.dump());
}

}  // namespace

Result<int64_t> Store::UpsertSweep(const SweepRecord& sweep) {
  CS_ASSIGN_OR_RETURN(int64_t id, StageSweep(sweep));
  CS_RETURN_IF_ERROR(Commit());
  return id;
}

Result<int64_t> Store::StageSweep(const SweepRecord& sweep) {
  Result<int64_t> id = impl_->Atomic([&]() -> Result<int64_t> {
    CS_ASSIGN_OR_RETURN(
        Stmt stmt,
        impl_->db->Prepare(
            "INSERT INTO sweeps (name, seed, max_attempts, source_path, source_text, config_json,"
            " created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)"
            " ON CONFLICT (name) DO UPDATE SET seed = excluded.seed,"
            " max_attempts = excluded.max_attempts, source_path = excluded.source_path,"
            " source_text = excluded.source_text, config_json = excluded.config_json,"
            " updated_ms = excluded.updated_ms RETURNING id"));
    stmt.Bind(1, sweep.name)
        .Bind(2, static_cast<int64_t>(sweep.seed))
        .Bind(3, sweep.max_attempts)
        .Bind(4, sweep.source_path)
        .Bind(5, sweep.source_text)
        .Bind(6, sweep.config_json)
        .Bind(7, Impl::WallMs());
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return Status::Internal("upsert sweep returned no id");
    int64_t sweep_id = stmt.Int(0);
    CS_RETURN_IF_ERROR(stmt.Run());
    return sweep_id;
  });
  if (!id.ok()) return id.status().WithContext("sweep " + sweep.name);
  return id;
}

Result<int64_t> Store::UpsertVariant(const VariantRecord& variant) {
  const std::string gen_json = GenToJson(variant.gen).dump();
  const std::string hash = VariantHash(variant, gen_json);
  {
    // Stored already (every submit of a running sweep): no write transaction, no commit.
    CS_ASSIGN_OR_RETURN(Stmt sel,
                        impl_->db->Prepare("SELECT id FROM variants WHERE content_hash = ?1"));
    sel.Bind(1, hash);
    CS_ASSIGN_OR_RETURN(bool row, sel.Step());
    if (row) return sel.Int(0);
  }
  Result<int64_t> id = impl_->Atomic([&]() -> Result<int64_t> {
    {
      CS_ASSIGN_OR_RETURN(
          Stmt ins, impl_->db->Prepare(
                        "INSERT OR IGNORE INTO variants (content_hash, model, provider, model_name,"
                        " options_json, gen_json, sandbox_json, created_ms)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
      ins.Bind(1, hash)
          .Bind(2, variant.model.id)
          .Bind(3, variant.model.provider)
          .Bind(4, variant.model.name)
          .Bind(5, variant.model.options_json)
          .Bind(6, gen_json)
          .Bind(7, variant.sandbox_json)
          .Bind(8, Impl::WallMs());
      CS_RETURN_IF_ERROR(ins.Run());
    }
    CS_ASSIGN_OR_RETURN(Stmt sel,
                        impl_->db->Prepare("SELECT id FROM variants WHERE content_hash = ?1"));
    sel.Bind(1, hash);
    CS_ASSIGN_OR_RETURN(bool row, sel.Step());
    if (!row) return Status::Internal("variant vanished after insert");
    return sel.Int(0);
  });
  if (!id.ok()) return id.status().WithContext("variant " + variant.model.id);
  CS_RETURN_IF_ERROR(Commit());
  return id;
}

Result<VariantRecord> Store::GetVariant(int64_t variant_id) {
  CS_ASSIGN_OR_RETURN(
      Stmt stmt, impl_->db->Prepare("SELECT model, provider, model_name, options_json, gen_json,"
                                    " sandbox_json FROM variants WHERE id = ?1"));
  stmt.Bind(1, variant_id);
  CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return Status::NotFound("variant " + std::to_string(variant_id));
  VariantRecord v;
  v.model.id = stmt.Text(0);
  v.model.provider = stmt.Text(1);
  v.model.name = stmt.Text(2);
  v.model.options_json = stmt.Text(3);
  CS_ASSIGN_OR_RETURN(v.gen, GenFromJson(stmt.Text(4)));
  v.sandbox_json = stmt.Text(5);
  return v;
}

namespace {

// Cells per INSERT statement: one statement of many rows costs a fraction of as many
// one-row statements (bench_store: the insert phase of a 1M-cell load is 2-3x faster).
constexpr size_t kRowsPerInsert = 32;

constexpr int kColsPerCell = 9;

// INSERT OR IGNORE of `rows` cells: ?1 is the sweep, ?2 the time, and row r binds ?(3 + 9r)
// onwards: cell_key, task, complexity, sample, variant_id, method, turns, epoch,
// method_template_id.
std::string InsertCellsSql(size_t rows) {
  std::string sql =
      "INSERT OR IGNORE INTO jobs (cell_key, sweep_id, task, complexity, sample, variant_id,"
      " method, turns, epoch, method_template_id, created_ms, updated_ms) VALUES ";
  for (size_t r = 0; r < rows; ++r) {
    const size_t b = 3 + kColsPerCell * r;
    auto p = [&](size_t i) { return "?" + std::to_string(b + i); };
    sql += (r ? ", (" : "(") + p(0) + ", ?1, " + p(1) + ", " + p(2) + ", " + p(3) + ", " + p(4) +
           ", " + p(5) + ", " + p(6) + ", " + p(7) + ", " + p(8) + ", ?2, ?2)";
  }
  return sql;
}

// Gives the job found under one of the cell's legacy keys the cell's key (a key made before the
// cell-key definition left out timeouts, retry, price and key_alias). UPDATE OR IGNORE: where a
// job already has the new key, the legacy one keeps its own.
Status AdoptLegacyKeys(store_internal::StoreDb& db, const CellRow& c) {
  for (const CellKey& legacy : c.legacy_cells) {
    CS_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare("UPDATE OR IGNORE jobs SET cell_key = ?1"
                                              " WHERE cell_key = ?2"));
    BindCellKey(stmt, 1, c.cell);
    BindCellKey(stmt, 2, legacy);
    CS_RETURN_IF_ERROR(stmt.Run());
  }
  return Status::OK();
}

}  // namespace

Result<int64_t> Store::InsertCells(int64_t sweep_id, const std::vector<CellRow>& cells) {
  const int64_t now = Impl::WallMs();
  if (cells.size() >= 1000 && !impl_->options.read_only) {
    CS_RETURN_IF_ERROR(impl_->EnterBulkCache());
  }
  static const std::string many = InsertCellsSql(kRowsPerInsert);
  static const std::string one = InsertCellsSql(1);
  Result<int64_t> inserted = impl_->Atomic([&]() -> Result<int64_t> {
    int64_t n = 0;
    for (const CellRow& c : cells) CS_RETURN_IF_ERROR(AdoptLegacyKeys(*impl_->db, c));
    for (size_t at = 0; at < cells.size();) {
      const size_t rows = cells.size() - at >= kRowsPerInsert ? kRowsPerInsert : 1;
      CS_ASSIGN_OR_RETURN(Stmt stmt, impl_->db->Prepare(rows == 1 ? one.c_str() : many.c_str()));
      stmt.Bind(1, sweep_id).Bind(2, now);
      for (size_t r = 0; r < rows; ++r, ++at) {
        const CellRow& c = cells[at];
        const int b = 3 + kColsPerCell * static_cast<int>(r);
        BindCellKey(stmt, b, c.cell);
        stmt.Bind(b + 1, c.task)
            .Bind(b + 2, c.complexity)
            .Bind(b + 3, c.sample)
            .Bind(b + 4, c.variant_id)
            .Bind(b + 5, c.method)
            .Bind(b + 6, c.turns)
            .Bind(b + 7, c.epoch)
            .Bind(b + 8, c.method_template_id);
      }
      CS_RETURN_IF_ERROR(stmt.Run());
      n += stmt.Changes();
    }
    return n;
  });
  if (!inserted.ok()) return inserted.status().WithContext("insert cells");
  return inserted;
}

Result<int64_t> Store::UpsertMethodTemplate(const std::string& content_hash,
                                            const std::string& name,
                                            const std::string& definition_json) {
  Result<int64_t> id = impl_->Atomic([&]() -> Result<int64_t> {
    {
      CS_ASSIGN_OR_RETURN(Stmt ins,
                          impl_->db->Prepare("INSERT OR IGNORE INTO method_templates (content_hash,"
                                             " name, definition_json, created_ms)"
                                             " VALUES (?1, ?2, ?3, ?4)"));
      ins.Bind(1, content_hash).Bind(2, name).Bind(3, definition_json).Bind(4, Impl::WallMs());
      CS_RETURN_IF_ERROR(ins.Run());
    }
    CS_ASSIGN_OR_RETURN(
        Stmt sel, impl_->db->Prepare("SELECT id FROM method_templates WHERE content_hash = ?1"));
    sel.Bind(1, content_hash);
    CS_ASSIGN_OR_RETURN(bool row, sel.Step());
    if (!row) return Status::Internal("method template vanished after insert");
    return sel.Int(0);
  });
  if (!id.ok()) return id.status().WithContext("method template " + name);
  return id;
}

Result<std::string> Store::GetMethodTemplate(int64_t id) {
  CS_ASSIGN_OR_RETURN(
      Stmt stmt, impl_->db->Prepare("SELECT definition_json FROM method_templates WHERE id = ?1"));
  stmt.Bind(1, id);
  CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return Status::NotFound("method template " + std::to_string(id) + " not found");
  return stmt.Text(0);
}

Result<std::vector<int64_t>> Store::SweepVariants(int64_t sweep_id) {
  CS_ASSIGN_OR_RETURN(Stmt stmt, impl_->db->Prepare("SELECT DISTINCT variant_id FROM jobs"
                                                    " WHERE sweep_id = ?1 ORDER BY 1"));
  stmt.Bind(1, sweep_id);
  std::vector<int64_t> ids;
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    ids.push_back(stmt.Int(0));
  }
  return ids;
}

Result<int64_t> Store::RemapVariant(int64_t sweep_id, int64_t from, int64_t to) {
  const int64_t now = Impl::WallMs();
  return impl_->Atomic([&]() -> Result<int64_t> {
    CS_ASSIGN_OR_RETURN(Stmt stmt,
                        impl_->db->Prepare("UPDATE jobs SET variant_id = ?3, updated_ms = ?4"
                                           " WHERE sweep_id = ?1 AND variant_id = ?2"));
    stmt.Bind(1, sweep_id).Bind(2, from).Bind(3, to).Bind(4, now);
    CS_RETURN_IF_ERROR(stmt.Run());
    return stmt.Changes();
  });
}

namespace {

constexpr int kCancelPollSteps = 10'000;  // SQLite VM steps between two looks at the flag

int LoadCancelled(void* cancel) {
  return static_cast<const std::atomic<bool>*>(cancel)->load(std::memory_order_relaxed) ? 1 : 0;
}

// Makes the connection's statements fail with SQLITE_INTERRUPT once `*cancel` is set (or stops
// watching, with nullptr).
void WatchCancel(sqlite3* db, const std::atomic<bool>* cancel) {
  if (cancel == nullptr) return sqlite3_progress_handler(db, 0, nullptr, nullptr);
  sqlite3_progress_handler(db, kCancelPollSteps, LoadCancelled,
                           const_cast<std::atomic<bool>*>(cancel));
}

}  // namespace

Status Store::BeginCellLoad(const std::atomic<bool>* cancel) {
  WatchCancel(impl_->db->raw(), cancel);
  CS_RETURN_IF_ERROR(impl_->BeginWrite());
  if (!impl_->deferred_job_indexes.empty()) return Status::OK();  // already open
  {
    CS_ASSIGN_OR_RETURN(Stmt any, impl_->db->Prepare("SELECT 1 FROM jobs LIMIT 1"));
    CS_ASSIGN_OR_RETURN(bool has_jobs, any.Step());
    // Indexes stay; new cells go in row by row (InsertCells enlarges the page cache for a batch
    // of 1,000 cells or more: a few cells added to a running sweep skip the enlarging and the
    // shrinking and malloc_trim that Commit then does).
    if (has_jobs) return Status::OK();
  }
  CS_RETURN_IF_ERROR(impl_->EnterBulkCache());
  std::vector<std::pair<std::string, std::string>> indexes;  // name, CREATE statement
  {
    CS_ASSIGN_OR_RETURN(
        Stmt list, impl_->db->Prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'index'"
                                      " AND tbl_name = 'jobs' AND sql IS NOT NULL ORDER BY name"));
    while (true) {
      CS_ASSIGN_OR_RETURN(bool row, list.Step());
      if (!row) break;
      indexes.emplace_back(list.Text(0), list.Text(1));
    }
  }
  for (const auto& [name, sql] : indexes) {
    CS_RETURN_IF_ERROR(impl_->db->Exec("DROP INDEX \"" + name + "\""));
    impl_->deferred_job_indexes.emplace_back(name, sql);
  }
  return Status::OK();
}

Result<int64_t> Store::FinishCellLoad() {
  Result<int64_t> removed = int64_t{0};
  if (!impl_->deferred_job_indexes.empty()) {
    removed = impl_->BuildDeferredJobIndexes();
    if (!removed.ok()) impl_->db->Rollback();  // the load is undone with its dropped indexes
  }
  WatchCancel(impl_->db->raw(), nullptr);
  return removed;
}

void Store::AbortCellLoad() {
  WatchCancel(impl_->db->raw(), nullptr);
  impl_->deferred_job_indexes.clear();  // the rollback brings the dropped indexes back
  impl_->lost_writes = Status::OK();    // nothing of the load is to be reported as lost
  impl_->db->Rollback();
}

Result<int64_t> Store::Impl::BuildDeferredJobIndexes() {
  std::vector<std::pair<std::string, std::string>> indexes = std::move(deferred_job_indexes);
  deferred_job_indexes.clear();
  if (!lost_writes.ok()) return lost_writes;  // SQLite undid the drops with everything else
  (void)db->Exec("PRAGMA threads = 2");       // lets the index sorts use a helper thread
  int64_t removed = 0;
  for (const auto& [name, sql] : indexes) {
    if (IsReportOnlyIndex(name)) {
      // Only the report views read it: built when the sweep has finished (BuildReportIndexes).
      CS_ASSIGN_OR_RETURN(Stmt later, db->Prepare("INSERT OR REPLACE INTO meta (key, value)"
                                                  " VALUES (?1, ?2)"));
      CS_RETURN_IF_ERROR(later.Bind(1, std::string(kLaterIndexPrefix) + name).Bind(2, sql).Run());
      continue;
    }
    Status s = db->Exec(sql);
    if (!s.ok() && sql.starts_with("CREATE UNIQUE")) {
      // Duplicate cell keys in the load: keep the first of each, as INSERT OR IGNORE would have.
      CS_ASSIGN_OR_RETURN(Stmt dedup, db->Prepare("DELETE FROM jobs WHERE id NOT IN"
                                                  " (SELECT min(id) FROM jobs GROUP BY cell_key)"));
      CS_RETURN_IF_ERROR(dedup.Run());
      removed = dedup.Changes();
      s = db->Exec(sql);
    }
    CS_RETURN_IF_ERROR(s.WithContext("building a jobs index after the grid load"));
  }
  return removed;
}

namespace {
std::string GridDigestKey(int64_t sweep_id) { return "grid_digest/" + std::to_string(sweep_id); }
}  // namespace

Result<int> Store::BuildReportIndexes() {
  CS_RETURN_IF_ERROR(impl_->RequireWritable());
  std::vector<std::pair<std::string, std::string>> later;  // meta key, CREATE INDEX statement
  {
    CS_ASSIGN_OR_RETURN(Stmt list, impl_->db->Prepare("SELECT key, value FROM meta"
                                                      " WHERE substr(key, 1, ?2) = ?1"));
    list.Bind(1, kLaterIndexPrefix).Bind(2, static_cast<int64_t>(kLaterIndexPrefix.size()));
    while (true) {
      CS_ASSIGN_OR_RETURN(bool row, list.Step());
      if (!row) break;
      later.emplace_back(list.Text(0), list.Text(1));
    }
  }
  if (later.empty()) return 0;
  return impl_->Atomic([&]() -> Result<int> {
    for (const auto& [key, sql] : later) {
      CS_RETURN_IF_ERROR(impl_->db->Exec(sql).WithContext("building " + key));
      CS_ASSIGN_OR_RETURN(Stmt done, impl_->db->Prepare("DELETE FROM meta WHERE key = ?1"));
      CS_RETURN_IF_ERROR(done.Bind(1, key).Run());
    }
    return static_cast<int>(later.size());
  });
}

Result<std::string> Store::GridDigest(int64_t sweep_id) {
  CS_ASSIGN_OR_RETURN(Stmt stmt, impl_->db->Prepare("SELECT value FROM meta WHERE key = ?1"));
  stmt.Bind(1, GridDigestKey(sweep_id));
  CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.Text(0) : std::string();
}

Status Store::SetGridDigest(int64_t sweep_id, const std::string& digest) {
  return impl_->Atomic([&]() -> Status {
    CS_ASSIGN_OR_RETURN(Stmt stmt, impl_->db->Prepare("INSERT INTO meta (key, value)"
                                                      " VALUES (?1, ?2) ON CONFLICT (key)"
                                                      " DO UPDATE SET value = excluded.value"));
    stmt.Bind(1, GridDigestKey(sweep_id)).Bind(2, digest);
    return stmt.Run();
  });
}

Result<int64_t> Store::SweepIdByName(const std::string& name) {
  CS_ASSIGN_OR_RETURN(Stmt stmt, impl_->db->Prepare("SELECT id FROM sweeps WHERE name = ?1"));
  stmt.Bind(1, name);
  CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.Int(0) : int64_t{0};
}

Result<std::vector<std::pair<int64_t, SweepRecord>>> Store::ListSweeps() {
  CS_ASSIGN_OR_RETURN(Stmt stmt,
                      impl_->db->Prepare("SELECT id, name, seed, max_attempts, source_path,"
                                         " source_text, config_json FROM sweeps ORDER BY id"));
  std::vector<std::pair<int64_t, SweepRecord>> out;
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    SweepRecord s;
    s.name = stmt.Text(1);
    s.seed = static_cast<uint64_t>(stmt.Int(2));
    s.max_attempts = static_cast<int>(stmt.Int(3));
    s.source_path = stmt.Text(4);
    s.source_text = stmt.Text(5);
    s.config_json = stmt.Text(6);
    out.emplace_back(stmt.Int(0), std::move(s));
  }
  return out;
}

}  // namespace codesweep
