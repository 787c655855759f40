#include "schema/job_state.h"

#include <gtest/gtest.h>

namespace codesweep {
namespace {

constexpr JobState kAll[] = {JobState::kPending, JobState::kLeased, JobState::kDone,
                             JobState::kFailed,  JobState::kDead,   JobState::kParked};

TEST(JobStateTest, NamesRoundTrip) {
  for (JobState s : kAll) EXPECT_EQ(ParseJobState(JobStateName(s)), s);
  EXPECT_FALSE(ParseJobState("running").has_value());
}

TEST(JobStateTest, TransitionTable) {
  EXPECT_TRUE(IsLegalTransition(JobState::kPending, JobState::kLeased));
  EXPECT_TRUE(IsLegalTransition(JobState::kLeased, JobState::kDone));
  EXPECT_TRUE(IsLegalTransition(JobState::kLeased, JobState::kPending));
  EXPECT_TRUE(IsLegalTransition(JobState::kLeased, JobState::kDead));
  EXPECT_TRUE(IsLegalTransition(JobState::kDead, JobState::kPending));
  // A finished job is never leased again or finished twice.
  EXPECT_FALSE(IsLegalTransition(JobState::kDone, JobState::kLeased));
  EXPECT_FALSE(IsLegalTransition(JobState::kDone, JobState::kPending));
  EXPECT_FALSE(IsLegalTransition(JobState::kDone, JobState::kDone));
  EXPECT_FALSE(IsLegalTransition(JobState::kPending, JobState::kDone));
  int legal = 0;
  for (JobState a : kAll) {
    for (JobState b : kAll) legal += IsLegalTransition(a, b);
  }
  // Batch mode: a leased cell parks while its call waits in a provider batch, and is pending
  // again once the batch has ended; a parked cell is never leased or finished directly.
  EXPECT_TRUE(IsLegalTransition(JobState::kLeased, JobState::kParked));
  EXPECT_TRUE(IsLegalTransition(JobState::kParked, JobState::kPending));
  EXPECT_FALSE(IsLegalTransition(JobState::kParked, JobState::kLeased));
  EXPECT_FALSE(IsLegalTransition(JobState::kParked, JobState::kDone));
  EXPECT_FALSE(IsTerminal(JobState::kParked));
  // The user cancelled the batch it waits for (`codesweep batches cancel`).
  EXPECT_TRUE(IsLegalTransition(JobState::kParked, JobState::kFailed));
  EXPECT_EQ(legal, 10);
}

TEST(JobStateTest, Terminal) {
  EXPECT_FALSE(IsTerminal(JobState::kPending));
  EXPECT_FALSE(IsTerminal(JobState::kLeased));
  EXPECT_TRUE(IsTerminal(JobState::kDone));
  EXPECT_TRUE(IsTerminal(JobState::kFailed));
  EXPECT_TRUE(IsTerminal(JobState::kDead));
}

}  // namespace
}  // namespace codesweep
