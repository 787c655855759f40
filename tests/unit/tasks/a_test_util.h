// Test helpers for the task tests of part A: one shared registry per test binary (loaded from the
// project's data/), and a batch runner that executes many Python programs in one child python3.
#pragma once

#include <string>
#include <vector>

#include "jobs/tasks/task.h"

namespace codesweep::testing_a {

// The registry over DefaultDataDir(); aborts the test binary if it cannot be built.
const TaskRegistry& Registry();
const Task& TaskNamed(const std::string& name);

// Runs each program with `python3 -I` (all in one process, each exec()'d in a fresh namespace
// with stdout captured) and returns their outputs in order. An exception is reported in the output
// as "\nPYTHON ERROR: ...". Returns an empty vector if python3 could not be run.
std::vector<std::string> RunPythonPrograms(const std::vector<std::string>& programs);

}  // namespace codesweep::testing_a
