// Retry and budget tests: sweep files whose openai models point at one fakellm process, and
// `codesweep` commands run to completion with their exit status and output. One test thread.
#pragma once

#include <fstream>
#include <string>
#include <vector>

#include "tests/integration/ratelimit/fakellm_harness.h"

namespace codesweep::testing {

struct RetrySweepModel {
  std::string id = "openai:fake";
  std::string extra;  // more TOML lines of the model table
};

struct RetrySweep {
  std::string name = "rt";
  int samples = 2;  // per complexity; 4 complexities of number_multiply
  std::vector<std::string> methods = {"all_text", "only_question"};
  std::vector<RetrySweepModel> models = {RetrySweepModel{}};
  std::string top;  // more top-level TOML lines (budgets)
};

// Every model answers through fakellm's sim (X-Codesweep-Cell), with one try per call and a
// price of 1,000 USD per million tokens (0.001 USD a token), so costs are easy to reach.
inline std::string WriteRetrySweep(const TempDir& dir, const RetrySweep& s,
                                   const std::string& base_url) {
  std::string path = dir / (s.name + ".toml");
  std::ofstream out(path);
  out << "name = \"" << s.name << "\"\nseed = 7\nsamples = " << s.samples << "\nmax_attempts = 1\n"
      << s.top << "methods = [";
  for (size_t i = 0; i < s.methods.size(); ++i) out << (i ? ", \"" : "\"") << s.methods[i] << "\"";
  out << "]\n\n[[tasks]]\nname = \"number_multiply\"\n"
      << "complexity = [\"1_2\", \"2_2\", \"3_3\", \"2_3\"]\n";
  for (const RetrySweepModel& m : s.models) {
    out << "\n[models.\"" << m.id << "\"]\nbase_url = \"" << base_url << "\"\napi_key_env = \"\"\n"
        << "cell_context_header = true\nmax_tokens = 256\nretry = { max_attempts = 1 }\n"
        << "price = { input = 1000.0, output = 1000.0 }\n"
        << m.extra;
  }
  return path;
}

struct CliRun {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};

// Runs `codesweep ARGS` to its end (at most two minutes).
inline CliRun Codesweep(const TempDir& dir, const std::vector<std::string>& args) {
  static int n = 0;
  std::vector<std::string> argv = {Binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  const std::string log = dir / ("cli-" + std::to_string(n++) + ".log");
  Proc p(argv, log);
  CliRun r;
  r.exit_code = p.Wait(120'000) ? p.exit_code() : -100;
  r.out = p.log();
  return r;
}

inline int64_t CountState(const std::string& db, const std::string& state) {
  return QueryInt(db, "SELECT count(*) FROM jobs WHERE state = '" + state + "'");
}

}  // namespace codesweep::testing
