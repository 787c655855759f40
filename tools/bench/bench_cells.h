// The bench databases' cells: `jobs` one-call number_multiply cells of one sweep and variant,
// loaded in batches of 50,000 and committed (bench_dispatch and bench_loadgen).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/hash.h"
#include "base/status.h"
#include "coordinator/store/store.h"

namespace codesweep::bench {

inline Status LoadBenchCells(Store& store, int64_t sweep, int64_t variant, int64_t jobs) {
  std::vector<CellRow> cells;
  CS_RETURN_IF_ERROR(store.BeginCellLoad());
  for (int64_t i = 0; i < jobs; ++i) {
    cells.push_back({CellKey(Sha256Hex(std::to_string(i))), "number_multiply", "1_2", i, variant,
                     "only_question", 1});
    if (cells.size() == 50'000 || i + 1 == jobs) {
      CS_ASSIGN_OR_RETURN(int64_t n, store.InsertCells(sweep, cells));
      (void)n;
      cells.clear();
    }
  }
  CS_RETURN_IF_ERROR(store.FinishCellLoad().status());
  return store.Commit();
}

}  // namespace codesweep::bench
