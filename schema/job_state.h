// The job state machine: the single table of legal transitions. The store's CHECK constraint
// (schema/sql) and every state change in the coordinator go through it. Pure functions.
//
//   pending --lease--> leased --result--> done      (a verdict was recorded)
//                        |    --fail----> failed    (permanent error, e.g. provider 401)
//                        |    --exhaust-> dead      (attempts used up; last error kept)
//                        +----requeue---> pending   (lease expired, worker lost, handed back,
//                                                    transient error with attempts left)
//   failed, dead --retry--> pending                 (explicit user request)
//   leased --park--> parked --unpark--> pending      (batch mode: the cell's next call waits in
//                                                    a provider batch; it runs again, replaying
//                                                    its calls from the cache, once that ends)
//   parked --cancel--> failed                        (the user cancelled its batch: `codesweep
//                                                    batches cancel`; `retry` runs it again)
#pragma once

#include <optional>
#include <string_view>

namespace codesweep {

enum class JobState { kPending = 0, kLeased = 1, kDone = 2, kFailed = 3, kDead = 4, kParked = 5 };

std::string_view JobStateName(JobState s);  // "pending", "leased", ...
std::optional<JobState> ParseJobState(std::string_view name);
bool IsTerminal(JobState s);  // done, failed, dead
bool IsLegalTransition(JobState from, JobState to);

}  // namespace codesweep
