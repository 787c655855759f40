// The text of `codesweep show`: one cell's whole trajectory in order (attempts; per attempt the
// prompts, replies, code, execution output; then the verdict and why). Multi-turn requests carry
// the whole conversation, so each call prints only the messages it adds. The text is valid UTF-8
// with every control character but newline and tab escaped (terminal-safe). Pure; any thread.
#pragma once

#include <string>

#include "coordinator/store/report_queries.h"

namespace codesweep {

struct ShowOptions {
  size_t max_field_chars = 0;  // truncate long prompts/outputs to this many chars (0 = all)
};

std::string FormatTrajectory(const Trajectory& t, const ShowOptions& options = {});

}  // namespace codesweep
