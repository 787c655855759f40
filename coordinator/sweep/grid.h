// Grid expansion: a SweepConfig becomes cells with deterministic keys. The cell key hashes
// everything that changes a model's output (sweep, task and its TaskVersion, complexity, sample,
// seed, model id and its output-affecting options, generation settings, method and its prompt
// version, turns, sandbox limits, the epoch when a sweep repeats cells) and none of the options
// listed by NonOutputOptionKeys (jobs/llm/llm_client.h): base_url, timeouts, retry, price,
// key_alias, ... Pure functions (including the size check, CheckGridSize) plus ExpandIntoStore,
// which inserts idempotently (INSERT OR IGNORE).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "coordinator/store/store.h"
#include "coordinator/sweep/sweep_file.h"

namespace codesweep {

struct GridCell {
  CellKey cell;
  std::string task;
  std::string complexity;
  int64_t sample = 0;
  size_t model_index = 0;  // into SweepConfig::models
  std::string method;
  int turns = 1;
  int epoch = 0;                      // 0 .. epochs - 1
  std::vector<CellKey> legacy_cells;  // keys under older definitions (ExpandIntoStore's upgrade)
};

// Per model of a SweepConfig: the key options its stored jobs had under an older cell-key
// definition, where they differ from the current ones.
using LegacyKeyOptions = std::vector<std::vector<std::string>>;

// Number of cells the config expands to (turns > 1 only for multi-turn methods), saturating at
// INT64_MAX.
int64_t GridSize(const SweepConfig& config);

// What a sweep needs before it runs: its cells, and the database size once every cell has its
// result (kDbBytesPerCell each, measured on sim sweeps: jobs, attempts, calls, executions and
// indexes; real model replies are longer, so treat it as a floor).
constexpr int64_t kDbBytesPerCell = 4096;
// What one job row alone takes with its indexes (a 1M-cell load of number_multiply): what the
// grid load itself writes.
constexpr int64_t kJobBytesPerCell = 210;
constexpr int64_t kDefaultMaxCells = 10'000'000;  // --max-cells
struct GridNeeds {
  int64_t cells = 0;
  int64_t db_bytes = 0;   // once every cell has its result
  int64_t job_bytes = 0;  // the jobs alone, as loaded
};
GridNeeds EstimateNeeds(const SweepConfig& config);
// ResourceExhausted (naming the cells, the database estimate and --max-cells) when the grid has
// more than `max_cells` cells. validate, run and coordinator call it before expanding anything.
Status CheckGridSize(const SweepConfig& config, int64_t max_cells);
// "1.5 GiB", for messages.
std::string FormatBytes(int64_t bytes);
// 12345678 -> "12,345,678", for messages.
std::string FormatCount(int64_t n);
// Calls `fn` for every cell in a fixed order; stops early if fn returns false.
void ForEachCell(const SweepConfig& config, const std::function<bool(const GridCell&)>& fn,
                 const LegacyKeyOptions& legacy = {});
// Model options without NonOutputOptionKeys(), canonical (sorted keys): what the key holds.
std::string OutputAffectingOptions(const ModelSpec& model);
// The same under the first definition, which kept timeouts, retry, max_attempts, price and
// key_alias (cell keys made before they left it).
std::string LegacyV1KeyOptions(const ModelSpec& model);

struct ExpandStats {
  int64_t sweep_id = 0;
  int64_t total = 0;     // cells in the grid
  int64_t inserted = 0;  // new this time
};

struct ExpandOptions {
  // Set from any thread to stop the load within a fraction of a second (a commit under way
  // ends first): the transaction in flight is rolled back and ExpandIntoStore returns
  // Unavailable. nullptr: not cancellable.
  const std::atomic<bool>* cancel = nullptr;
  // Cells per transaction. Bounds the write-ahead log (about 170 MB a million cells) and what a
  // cancel or a crash undoes; the batches committed before stay, and the next load of the
  // same sweep adds only the rest. The sweep row commits with the first batch.
  int64_t cells_per_commit = 1'000'000;
};

// Loads the sweep, its variants and its cells into the store (INSERT OR IGNORE), or nothing when
// the last load of this sweep had the same grid. Stored jobs of the sweep whose variant gives the
// same output as one of the sweep's models are pointed at that model's current variant (so they
// run with the current transport settings), and jobs keyed under the older key definition take
// their new keys instead of being inserted again.
Result<ExpandStats> ExpandIntoStore(const SweepConfig& config, Store& store,
                                    const ExpandOptions& options = {});

// The JobSpec of a stored job (used by the coordinator when dispatching).
JobSpec MakeJobSpec(const std::string& sweep_name, uint64_t seed, const JobRow& row,
                    const VariantRecord& variant);

}  // namespace codesweep
