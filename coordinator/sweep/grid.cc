// Grid expansion and cell keys. A cell key is SHA-256 over a versioned, canonical description of
// everything that changes the model's output; the per-(model, method, turns) and
// per-(task, complexity) parts are built once and only the sample index varies per cell.
#include "coordinator/sweep/grid.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "base/hash.h"
#include "base/trace.h"
#include "coordinator/sweep/declared_tasks.h"
#include "coordinator/sweep/method_templates.h"
#include "jobs/llm/llm_client.h"
#include "jobs/methods/method.h"
#include "jobs/tasks/declared/declared_task.h"
#include "jobs/tasks/task.h"

namespace codesweep {

namespace {

using json = nlohmann::json;

// The options the first cell-key definition left out. It kept timeouts, retry, max_attempts,
// price and key_alias in the key; such keys are found again through LegacyV1KeyOptions (the
// upgrade).
constexpr const char* kLegacyV1TransportKeys[] = {
    "base_url",    "api_key_env",        "headers",
    "timeout_ms",  "connect_timeout_ms", "cell_context_header",
    "max_retries", "latency_ms",         "latency_jitter_ms"};

json GenJson(const GenSettings& g) {
  json j = {{"temperature", g.temperature},
            {"top_p", g.top_p},
            {"max_tokens", g.max_tokens},
            {"stop", g.stop}};
  if (g.seed) j["seed"] = *g.seed;
  return j;
}

// The turn counts a method gets: the sweep's list for multi-turn methods, a declared method's
// fixed turns, else just 1.
std::vector<int> TurnsFor(const SweepConfig& c, const std::string& method) {
  return SweepMethodTurns(c, method);
}

struct Combo {
  size_t model_index;
  std::string method;
  int turns;
  std::string key_part;
  std::vector<std::string> legacy_parts;  // the same combo under older key definitions
};

// The part of a cell key shared by every cell of one (model, method, turns), given the model's
// key options.
std::string ComboPart(const SweepConfig& c, const ModelConfig& m, const std::string& options,
                      const std::string& method, int turns) {
  // A declared method's prompt version hashes its templates: editing one gives new cells.
  std::optional<MethodInfo> info = SweepMethodInfo(c, method);
  json j = {{"model", m.spec.id},
            {"options", json::parse(options)},
            {"gen", GenJson(m.gen)},
            {"method", method},
            {"prompt_version", info ? info->prompt_version : ""},
            {"turns", turns},
            {"sandbox", json::parse(c.sandbox_json)}};
  return j.dump();
}

// `legacy[mi]`: key options model mi had under the old definition in jobs still stored.
std::vector<Combo> Combos(const SweepConfig& c, const LegacyKeyOptions& legacy = {}) {
  std::vector<Combo> out;
  for (size_t mi = 0; mi < c.models.size(); ++mi) {
    const ModelConfig& m = c.models[mi];
    for (const auto& method : c.methods) {
      if (!m.Runs(method)) continue;
      for (int turns : TurnsFor(c, method)) {
        Combo combo{
            mi, method, turns, ComboPart(c, m, OutputAffectingOptions(m.spec), method, turns), {}};
        if (mi < legacy.size()) {
          for (const std::string& options : legacy[mi]) {
            combo.legacy_parts.push_back(ComboPart(c, m, options, method, turns));
          }
        }
        out.push_back(std::move(combo));
      }
    }
  }
  return out;
}

int64_t SamplesFor(const SweepConfig& c, const TaskConfig& t) {
  return t.samples > 0 ? t.samples : c.samples;
}

// The part of a cell key shared by every sample of one task level.
std::string TaskPart(const SweepConfig& c, const TaskConfig& t, const std::string& level) {
  json tj = {
      {"v", 1}, {"sweep", c.name}, {"seed", c.seed}, {"task", t.name}, {"complexity", level}};
  // Left out at version 1, so the keys of tasks whose questions never changed stay as they were.
  if (int version = TaskVersion(t.name); version > 1) tj["task_version"] = version;
  // A declared task: its definition (templates, extractors, scorer); the sample is the row's
  // content hash, so the row's content is in the key too.
  if (t.declared) tj["definition"] = t.declared->spec().definition_hash;
  return tj.dump();
}

// The sample indexes of one task level: first_sample.. for built-in tasks, row keys for
// declared ones.
std::vector<int64_t> DeclaredSamples(const SweepConfig& c, const TaskConfig& t,
                                     const std::string& level) {
  return t.declared->SampleKeys(level, t.all_samples ? -1 : DeclaredSampleCount(c, t, level),
                                t.first_sample, c.seed);
}

// Batches of cells from the thread that hashes them to the thread that inserts them; at most
// two wait, so memory stays bounded whatever the grid's size.
class BatchQueue {
 public:
  // False once the consumer has cancelled (the producer then stops).
  bool Push(std::vector<CellRow> batch) {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return cancelled_ || queue_.size() < 2; });
    if (cancelled_) return false;
    queue_.push_back(std::move(batch));
    changed_.notify_all();
    return true;
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    changed_.notify_all();
  }
  void Cancel() {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    changed_.notify_all();
  }
  // The next batch, or nothing once the producer has closed and the queue is empty.
  std::optional<std::vector<CellRow>> Pop() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return closed_ || !queue_.empty(); });
    if (queue_.empty()) return std::nullopt;
    std::vector<CellRow> batch = std::move(queue_.front());
    queue_.pop_front();
    changed_.notify_all();
    return batch;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::vector<CellRow>> queue_;
  bool closed_ = false;
  bool cancelled_ = false;
};

}  // namespace

std::string OutputAffectingOptions(const ModelSpec& model) {
  json o = json::parse(model.options_json, nullptr, /*allow_exceptions=*/false);
  if (!o.is_object()) return "{}";
  for (const std::string& k : NonOutputOptionKeys()) o.erase(k);
  return o.dump();  // nlohmann::json objects are sorted by key
}

std::string LegacyV1KeyOptions(const ModelSpec& model) {
  json o = json::parse(model.options_json, nullptr, /*allow_exceptions=*/false);
  if (!o.is_object()) return "{}";
  for (const char* k : kLegacyV1TransportKeys) o.erase(k);
  return o.dump();
}

namespace {

// a * b and a + b, saturating at INT64_MAX (grids are sized before anything is allocated, so a
// hostile file must not wrap them negative). Inputs are non-negative.
int64_t SatMul(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}
int64_t SatAdd(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

}  // namespace

int64_t GridSize(const SweepConfig& c) {
  int64_t combos = 0;
  for (const auto& m : c.models) {
    for (const auto& method : c.methods) {
      if (m.Runs(method)) combos = SatAdd(combos, static_cast<int64_t>(TurnsFor(c, method).size()));
    }
  }
  int64_t instances = 0;
  for (const auto& t : c.tasks) {
    if (t.declared) {
      for (const auto& level : t.complexities) {
        instances = SatAdd(instances, DeclaredSampleCount(c, t, level));
      }
      continue;
    }
    instances =
        SatAdd(instances, SatMul(static_cast<int64_t>(t.complexities.size()), SamplesFor(c, t)));
  }
  return SatMul(SatMul(combos, instances), c.epochs);
}

GridNeeds EstimateNeeds(const SweepConfig& config) {
  GridNeeds needs;
  needs.cells = GridSize(config);
  needs.db_bytes = SatMul(needs.cells, kDbBytesPerCell);
  needs.job_bytes = SatMul(needs.cells, kJobBytesPerCell);
  return needs;
}

Status CheckGridSize(const SweepConfig& config, int64_t max_cells) {
  GridNeeds needs = EstimateNeeds(config);
  if (needs.cells <= max_cells) return Status::OK();
  std::string cells = needs.cells == INT64_MAX ? "more than 9.2e18" : FormatCount(needs.cells);
  return Status::ResourceExhausted(
      config.path + ": the grid has " + cells + " cells, more than --max-cells " +
      FormatCount(max_cells) + "; the database would need about " + FormatBytes(needs.db_bytes) +
      " once every cell has its result (" + FormatBytes(needs.job_bytes) +
      " for the jobs alone). Shrink the sweep, or raise --max-cells to load it anyway");
}

std::string FormatCount(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string FormatBytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 6) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

namespace {

// H(task part | sample | combo part [| epoch]): epoch 0 has no epoch part, so a cell keeps its key
// when a sweep starts repeating it.
CellKey KeyOf(const std::string& task_part, int64_t sample, const std::string& combo_part,
              int epoch, std::string& buf) {
  buf.clear();
  buf += task_part;
  buf += "|sample=";
  buf += std::to_string(sample);
  buf += '|';
  buf += combo_part;
  if (epoch > 0) buf += "|epoch=" + std::to_string(epoch);
  return CellKey(Sha256Hex(buf));
}

}  // namespace

void ForEachCell(const SweepConfig& c, const std::function<bool(const GridCell&)>& fn,
                 const LegacyKeyOptions& legacy) {
  std::vector<Combo> combos = Combos(c, legacy);
  GridCell cell;
  std::string buf;
  for (const auto& t : c.tasks) {
    for (const auto& level : t.complexities) {
      std::string task_part = TaskPart(c, t, level);
      int64_t n = SamplesFor(c, t);
      std::vector<int64_t> keys;
      if (t.declared) {
        keys = DeclaredSamples(c, t, level);
        n = static_cast<int64_t>(keys.size());
      }
      for (int64_t i = 0; i < n; ++i) {
        int64_t s = t.declared ? keys[static_cast<size_t>(i)] : t.first_sample + i;
        for (const Combo& combo : combos) {
          cell.task = t.name;
          cell.complexity = level;
          cell.sample = s;
          cell.model_index = combo.model_index;
          cell.method = combo.method;
          cell.turns = combo.turns;
          for (int e = 0; e < c.epochs; ++e) {
            cell.cell = KeyOf(task_part, s, combo.key_part, e, buf);
            cell.epoch = e;
            cell.legacy_cells.clear();
            for (const std::string& part : combo.legacy_parts) {
              cell.legacy_cells.push_back(KeyOf(task_part, s, part, e, buf));
            }
            if (!fn(cell)) return;
          }
        }
      }
    }
  }
}

namespace {

constexpr std::string_view kDigestPrefix = "v2-";

// What Store::GridDigest keeps for a sweep: a digest of everything its cell keys derive from.
std::string LoadDigest(const SweepConfig& c, const std::vector<int64_t>& variant_ids) {
  // A cell key is H(task part | sample | combo part): these parts, the sample ranges and the
  // variant each model maps to determine every row a load inserts.
  // v2: cell keys without timeouts, retry, price and key_alias, and epochs; every database loaded
  // before is loaded once more, which adopts its legacy keys and remaps its variants.
  std::string d = "grid-digest/v2 epochs=" + std::to_string(c.epochs) + "\n";
  for (const auto& t : c.tasks) {
    for (const auto& level : t.complexities) {
      d += TaskPart(c, t, level);
      if (t.declared) {  // the rows picked
        std::vector<int64_t> keys = DeclaredSamples(c, t, level);
        d += "|rows=" +
             Sha256Hex(std::string_view(reinterpret_cast<const char*>(keys.data()),
                                        keys.size() * sizeof(int64_t))) +
             '\n';
        continue;
      }
      d += '|' + std::to_string(t.first_sample) + '+' + std::to_string(SamplesFor(c, t)) + '\n';
    }
  }
  for (const Combo& combo : Combos(c)) {
    d += std::to_string(variant_ids.at(combo.model_index)) + '|' + combo.method + '|' +
         std::to_string(combo.turns) + '|' + combo.key_part + '\n';
  }
  return std::string(kDigestPrefix) + Sha256Hex(d);
}

}  // namespace

namespace {

bool Cancelled(const ExpandOptions& o) { return o.cancel != nullptr && o.cancel->load(); }

// Hashes the grid's cells into batches on a second thread (stopped early by Cancel) while the
// caller's thread inserts them. A grid of one batch or less is hashed on the caller's thread in
// the constructor: there is nothing to overlap, and a thread start and two hand-overs would be
// most of the time of a small load (a grid extended by a few cells, `codesweep submit`).
class CellProducer {
 public:
  static constexpr size_t kBatch = 50'000;
  CellProducer(const SweepConfig& c, const std::vector<int64_t>& variant_ids,
               const std::map<std::string, int64_t>& template_ids, const LegacyKeyOptions& legacy)
      : template_ids_(template_ids) {
    if (GridSize(c) <= static_cast<int64_t>(kBatch)) {
      Produce(c, variant_ids, legacy);  // one Push at most: never waits for a consumer
    } else {
      thread_ = std::thread([this, &c, &variant_ids, &legacy] { Produce(c, variant_ids, legacy); });
    }
  }
  ~CellProducer() {
    queue_.Cancel();
    if (thread_.joinable()) thread_.join();
  }
  std::optional<std::vector<CellRow>> Next() { return queue_.Pop(); }

 private:
  void Produce(const SweepConfig& c, const std::vector<int64_t>& variant_ids,
               const LegacyKeyOptions& legacy) {
    std::vector<CellRow> batch;
    batch.reserve(static_cast<size_t>(std::min<int64_t>(GridSize(c), kBatch)));
    ForEachCell(
        c,
        [&](const GridCell& g) {
          batch.push_back({g.cell, g.task, g.complexity, g.sample, variant_ids[g.model_index],
                           g.method, g.turns, g.epoch, g.legacy_cells, TemplateId(g.method)});
          if (batch.size() < kBatch) return true;
          bool more = queue_.Push(std::move(batch));
          batch = {};
          batch.reserve(kBatch);
          return more;
        },
        legacy);
    if (!batch.empty()) queue_.Push(std::move(batch));
    queue_.Close();
  }
  int64_t TemplateId(const std::string& method) const {
    if (template_ids_.empty()) return 0;
    auto it = template_ids_.find(method);
    return it == template_ids_.end() ? 0 : it->second;
  }
  const std::map<std::string, int64_t>& template_ids_;  // declared method -> its stored row
  BatchQueue queue_;
  std::thread thread_;  // started in the constructor's body, once the queue exists
};

// Ends the open load's transaction with its indexes built; counts the duplicates it dropped.
Status FinishBatch(Store& store, ExpandStats* stats) {
  CS_ASSIGN_OR_RETURN(int64_t duplicates, store.FinishCellLoad());
  stats->inserted -= duplicates;
  return Status::OK();
}

// Inserts every cell, committing every options.cells_per_commit cells; the last batch is left
// finished but uncommitted. On error (or cancel) the caller aborts the open load.
Status LoadCells(const SweepConfig& c, const std::vector<int64_t>& variant_ids,
                 const std::map<std::string, int64_t>& template_ids, const LegacyKeyOptions& legacy,
                 Store& store, const ExpandOptions& options, ExpandStats* stats) {
  CellProducer producer(c, variant_ids, template_ids, legacy);
  CS_RETURN_IF_ERROR(store.BeginCellLoad(options.cancel));
  int64_t uncommitted = 0;
  while (std::optional<std::vector<CellRow>> batch = producer.Next()) {
    if (Cancelled(options)) return Status::Unavailable("cancelled");
    CS_ASSIGN_OR_RETURN(int64_t inserted, store.InsertCells(stats->sweep_id, *batch));
    stats->total += static_cast<int64_t>(batch->size());
    stats->inserted += inserted;
    uncommitted += static_cast<int64_t>(batch->size());
    if (uncommitted < options.cells_per_commit) continue;
    CS_RETURN_IF_ERROR(FinishBatch(store, stats));
    CS_RETURN_IF_ERROR(store.Commit());
    uncommitted = 0;
    CS_RETURN_IF_ERROR(store.BeginCellLoad(options.cancel));
  }
  return FinishBatch(store, stats);
}

// The model of `c` whose output `v` gives (same id, output options, generation settings and
// sandbox limits), or -1.
int OutputTwin(const SweepConfig& c, const VariantRecord& v) {
  json sandbox = json::parse(v.sandbox_json, nullptr, /*allow_exceptions=*/false);
  if (sandbox != json::parse(c.sandbox_json, nullptr, false)) return -1;
  for (size_t mi = 0; mi < c.models.size(); ++mi) {
    const ModelConfig& m = c.models[mi];
    if (m.spec.id == v.model.id && GenJson(m.gen) == GenJson(v.gen) &&
        OutputAffectingOptions(m.spec) == OutputAffectingOptions(v.model)) {
      return static_cast<int>(mi);
    }
  }
  return -1;
}

// Makes the sweep's stored jobs follow the transport settings of this run: a job whose variant
// gives the same output as a model of `c` is pointed at that model's variant now, so pending,
// requeued and retried cells are dispatched with the current base_url, timeouts, price, ...
// With `legacy`, also returns the key options each model's jobs had under the first cell-key
// definition where they differ (their jobs take the new keys in the load).
Result<LegacyKeyOptions> FollowCurrentVariants(const SweepConfig& c,
                                               const std::vector<int64_t>& variant_ids,
                                               int64_t sweep_id, bool legacy, Store& store) {
  LegacyKeyOptions out(c.models.size());
  CS_ASSIGN_OR_RETURN(std::vector<int64_t> used, store.SweepVariants(sweep_id));
  for (int64_t id : used) {
    CS_ASSIGN_OR_RETURN(VariantRecord v, store.GetVariant(id));
    const int mi = OutputTwin(c, v);
    if (mi < 0) continue;
    if (id != variant_ids[mi]) {
      CS_RETURN_IF_ERROR(store.RemapVariant(sweep_id, id, variant_ids[mi]).status());
    }
    std::string old_options = LegacyV1KeyOptions(v.model);
    std::vector<std::string>& seen = out[mi];
    if (legacy && old_options != OutputAffectingOptions(v.model) &&
        std::find(seen.begin(), seen.end(), old_options) == seen.end()) {
      seen.push_back(std::move(old_options));
    }
  }
  return out;
}

}  // namespace

Result<ExpandStats> ExpandIntoStore(const SweepConfig& c, Store& store,
                                    const ExpandOptions& options) {
  ExpandStats stats;
  std::vector<int64_t> variant_ids;
  for (const ModelConfig& m : c.models) {
    VariantRecord v{m.spec, m.gen, c.sandbox_json};
    CS_ASSIGN_OR_RETURN(int64_t id, store.UpsertVariant(v));  // commits; shared, harmless alone
    variant_ids.push_back(id);
  }
  SweepRecord rec{c.name, c.seed, c.max_attempts, c.path, c.text, SweepConfigJson(c)};
  CS_ASSIGN_OR_RETURN(stats.sweep_id, store.StageSweep(rec));  // commits with the first cells
  // Run again unchanged: the last load of this sweep had the same digest and the sweep still
  // has exactly the jobs it had then (codesweep never deletes one), so there is nothing to
  // insert. The saved value is "<digest> <jobs of the sweep after that load>".
  const std::string digest = LoadDigest(c, variant_ids);
  CS_ASSIGN_OR_RETURN(std::string saved, store.GridDigest(stats.sweep_id));
  CS_ASSIGN_OR_RETURN(const int64_t had, store.CountJobs(std::nullopt, stats.sweep_id));
  TraceEvent("grid_staged", stats.sweep_id);
  if (saved == digest + " " + std::to_string(had)) {
    stats.total = GridSize(c);
    CS_RETURN_IF_ERROR(store.Commit());
    return stats;
  }
  // A digest saved by a binary from before the current cell-key definition: jobs may still carry
  // keys of the old definition.
  const bool legacy = had > 0 && !saved.starts_with(kDigestPrefix);
  CS_ASSIGN_OR_RETURN(LegacyKeyOptions legacy_options,
                      FollowCurrentVariants(c, variant_ids, stats.sweep_id, legacy, store));
  // The definitions of the declared methods, content-addressed: each job points at the one it
  // runs, so a pending cell of an edited template still runs the text its key was made from.
  std::map<std::string, int64_t> template_ids;
  for (const MethodTemplate& t : c.method_templates) {
    CS_ASSIGN_OR_RETURN(
        template_ids[t.name],
        store.UpsertMethodTemplate(MethodTemplateHash(t), t.name, MethodTemplateJson(t)));
  }
  TraceEvent("grid_followed", stats.sweep_id);
  Status loaded = LoadCells(c, variant_ids, template_ids, legacy_options, store, options, &stats);
  if (!loaded.ok()) {
    store.AbortCellLoad();
    if (!Cancelled(options)) return loaded;
    return Status::Unavailable(
        "grid load interrupted; the cells committed before stay and the "
        "next load of this sweep adds the rest");
  }
  const int64_t jobs = had + stats.inserted;
  CS_RETURN_IF_ERROR(store.SetGridDigest(stats.sweep_id, digest + " " + std::to_string(jobs)));
  TraceEvent("grid_inserted", stats.sweep_id, stats.inserted);
  CS_RETURN_IF_ERROR(store.Commit());
  TraceEvent("grid_committed", stats.sweep_id, stats.inserted);
  return stats;
}

JobSpec MakeJobSpec(const std::string& sweep_name, uint64_t seed, const JobRow& row,
                    const VariantRecord& variant) {
  JobSpec spec;
  spec.job = row.job;
  spec.cell = row.cell;
  spec.sweep = sweep_name;
  spec.task = row.task;
  spec.complexity = row.complexity;
  spec.sample = row.sample;
  spec.seed = seed;
  spec.model = variant.model;
  spec.method = row.method;
  spec.turns = row.turns;
  spec.gen = variant.gen;
  spec.sandbox_json = variant.sandbox_json;
  spec.epoch = row.epoch;
  return spec;
}

}  // namespace codesweep
