#include "schema/job_state.h"

namespace codesweep {

std::string_view JobStateName(JobState s) {
  switch (s) {
    case JobState::kPending:
      return "pending";
    case JobState::kLeased:
      return "leased";
    case JobState::kDone:
      return "done";
    case JobState::kFailed:
      return "failed";
    case JobState::kDead:
      return "dead";
    case JobState::kParked:
      return "parked";
  }
  return "?";
}

std::optional<JobState> ParseJobState(std::string_view name) {
  for (JobState s : {JobState::kPending, JobState::kLeased, JobState::kDone, JobState::kFailed,
                     JobState::kDead, JobState::kParked}) {
    if (JobStateName(s) == name) return s;
  }
  return std::nullopt;
}

bool IsTerminal(JobState s) {
  return s == JobState::kDone || s == JobState::kFailed || s == JobState::kDead;
}

bool IsLegalTransition(JobState from, JobState to) {
  struct Edge {
    JobState from, to;
  };
  static constexpr Edge kEdges[] = {
      {JobState::kPending, JobState::kLeased}, {JobState::kLeased, JobState::kDone},
      {JobState::kLeased, JobState::kFailed},  {JobState::kLeased, JobState::kDead},
      {JobState::kLeased, JobState::kPending}, {JobState::kFailed, JobState::kPending},
      {JobState::kDead, JobState::kPending},   {JobState::kLeased, JobState::kParked},
      {JobState::kParked, JobState::kPending}, {JobState::kParked, JobState::kFailed},
  };
  for (const Edge& e : kEdges) {
    if (e.from == from && e.to == to) return true;
  }
  return false;
}

}  // namespace codesweep
