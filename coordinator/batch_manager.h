// BatchManager: the coordinator's side of batch mode (docs/batch.md). It answers the CALLs of
// models with `batch = true` (from the call cache, or by parking the cell while the request waits
// in the queue of its (provider, model, key alias)), flushes queues into provider batches (by
// size, by age, or when nothing else is runnable), polls live batches and, when one ends, puts
// its answers into the call cache and makes the cells parked on them pending again. Every step is
// in SQLite before it counts: a batch row is committed before the provider is asked to create it,
// its provider id before the upload counts as done, and a batch's answers with the unparking of
// its cells in one transaction. Owned by CoordinatorCore; used by the coordinator loop only. Its
// provider requests (upload and create, poll and results, the lookup after a restart) run on one
// background thread of its own, one step per batch at a time; the loop collects a finished step on
// a later Tick and does its database writes itself, so a slow provider never stalls dispatch.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/log.h"
#include "coordinator/store/store.h"
#include "jobs/llm/batch_api.h"
#include "jobs/llm/provider_options.h"
#include "schema/messages.h"

namespace codesweep {

class HttpEngine;
class BatchStepRunner;  // the background thread of provider requests (batch_manager.cc)

// What one provider request step brought back (filled off the loop thread).
struct BatchStepDone {
  Result<BatchInfo> info = Status::Internal("no answer");
  Result<std::vector<BatchItem>> items = std::vector<BatchItem>();
  Result<std::optional<BatchInfo>> found = std::optional<BatchInfo>();
  Status cancel;  // a poll: the answer to a cancel sent for the user
};

// What `codesweep batches cancel` did to one live batch.
struct BatchCancel {
  BatchRow batch;
  Status provider;  // the provider's answer to the cancel request (OK, or why it failed)
};

struct BatchManagerOptions {
  // Looks up a named secret (an API key's environment variable); null = none is known.
  std::function<std::optional<std::string>(const std::string&)> get_secret;
  std::string prices_path;  // data/prices.json; "" = batch costs recorded as 0
  int max_tries = 3;        // batches one request may be sent in before its error is final
  int64_t http_timeout_ms = 60'000;
};

class BatchManager {
 public:
  BatchManager(Store& store, const Clock& clock, Logger& log, BatchManagerOptions options);
  ~BatchManager();

  // Restart: cells parked on calls that have ended become pending. Commit afterwards.
  Status Start();
  // A batch-mode CALL: the GRANT to send (cached answer, error, or park).
  Result<GrantMsg> OnCall(const CallMsg& call);
  // Flushes due queues and polls due batches. `idle`: nothing else can run now (flush at once).
  // Returns how many cells became pending (the caller re-reads pending jobs). Commits itself
  // around every provider request.
  Result<int64_t> Tick(bool idle);
  // `codesweep batches cancel`: marks the live batches of `sweep_id` cancelled by the user
  // (committed first, so a coordinator that polls them keeps cancelling them if this process
  // stops), then asks the provider to cancel each. When such a batch ends, its answers are kept
  // and the cells waiting for its other requests end failed (docs/batch.md).
  Result<std::vector<BatchCancel>> CancelLive(int64_t sweep_id);
  // The coordinator stops: provider requests still running get `grace_ms` to end (their answers
  // are written), then are given up (a batch left 'creating' is looked up by the next start, one
  // being polled is polled again). No step runs after it.
  Status Stop(int64_t grace_ms);
  // Cells that ended failed since the last call because the user cancelled their batch.
  int64_t TakeCancelledCells() { return std::exchange(cancelled_cells_, 0); }
  bool any_queued() const { return queued_ > 0; }
  int64_t NextWakeMs(int64_t cap) const;

 private:
  struct ModelInfo {
    ModelSpec model;
    ProviderOptions options;
  };
  using BucketId = std::tuple<std::string, std::string, std::string>;  // provider, model, alias

  Result<const ModelInfo*> Model(int64_t variant_id);
  Result<BatchApiClient> Client(const std::string& provider, const std::string& base_url,
                                const std::string& api_key_env, const ProviderOptions* options);
  // A provider request running off the loop thread: the batch as it was when it began.
  struct HttpStep {
    using Done = BatchStepDone;
    enum class Kind { kCreate, kPoll, kAdopt };
    Kind kind = Kind::kPoll;
    BatchRow batch;                 // as when the step began
    BucketId bucket;                // kCreate
    std::vector<std::string> keys;  // kCreate: the call keys sent in it
    int64_t poll_ms = 30'000;
  };

  Status Flush(const BatchQueueRow& queue, const ModelInfo& info);
  Status Adopt(BatchRow& batch);  // a 'creating' row found on restart: look it up
  // Hands `work` (provider requests only, no database) to the background thread.
  void Post(HttpStep step, std::function<BatchStepDone()> work);
  // The loop's side of finished steps: their database writes. Returns the cells unparked.
  Result<int64_t> FinishSteps();
  Status Created(HttpStep& step, HttpStep::Done& done);
  Status Adopted(HttpStep& step, HttpStep::Done& done);
  Result<int64_t> Polled(HttpStep& step, HttpStep::Done& done);
  static int64_t RequestTokens(WireFormat format, const BatchRequestRow& r);
  Result<int64_t> EnqueuedTokens(const BucketId& bucket);  // of the bucket's live batches
  Status Poll(BatchRow& batch);
  Result<int64_t> Collect(BatchRow& batch, const BatchInfo& info,
                          Result<std::vector<BatchItem>> items);
  int64_t NowMs() const { return clock_.WallMs(); }

  Store& store_;
  const Clock& clock_;
  Logger& log_;
  BatchManagerOptions opt_;
  std::shared_ptr<HttpEngine> http_;         // stops waiting at once when the manager ends
  std::unique_ptr<BatchStepRunner> runner_;  // started by the first step
  std::optional<PriceTable> prices_;
  std::unordered_map<int64_t, ModelInfo> models_;  // by variant id
  std::map<BucketId, int64_t> split_;              // bucket -> most requests per batch after a
                                                   // refusal for size
  std::map<BucketId, int64_t> hold_until_ms_;      // bucket -> no flush before (queue limit)
  std::map<std::string, int64_t> poll_ms_;         // provider:model -> poll interval
  std::map<int64_t, bool> cancel_sent_;            // batch id -> cancel sent by this process
  std::map<int64_t, HttpStep> steps_;              // batch id -> its provider request in flight
  int64_t cancelled_cells_ = 0;                    // see TakeCancelledCells
  int64_t queued_ = 0;                             // parked calls since the last flush check
  int64_t next_queue_check_ms_ = 0;
  bool started_ = false;
};

}  // namespace codesweep
