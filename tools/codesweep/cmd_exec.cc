// `codesweep exec FILE.py`: runs one snippet in the sandbox as a worker would and prints the
// result; `codesweep exec --info` lists the tier probes and the profile's importable packages.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "base/log.h"
#include "jobs/sandbox/sandbox.h"
#include "jobs/sandbox/sandbox_info.h"
#include "tools/codesweep/commands.h"

namespace codesweep {
namespace {

struct ExecFlags {
  std::string file;
  std::string tier = "auto";
  bool allow_tier_c = false;
  std::string mode = "fresh";
  std::string backend = "auto";
  std::string timeout = "10s";
  std::string python = "/usr/bin/python3";
  bool json = false;
  bool info = false;
};

// "10s", "1500ms", "2m", or a bare number of seconds, within the sandbox's wall_ms range
// (1 ms to 24 h; docs/operations.md).
Result<int64_t> ParseDurationMs(const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (...) {
    return Status::InvalidArgument("--timeout " + text + ": not a duration (e.g. 10s, 1500ms, 2m)");
  }
  std::string unit = text.substr(used);
  double scale = unit == "ms" ? 1 : (unit == "s" || unit.empty()) ? 1000 : unit == "m" ? 60000 : -1;
  if (scale < 0 || !std::isfinite(value)) {
    return Status::InvalidArgument("--timeout " + text + ": not a duration (e.g. 10s, 1500ms, 2m)");
  }
  const ExecLimitRange* range = FindExecLimitRange("wall_ms");
  double ms = value * scale;
  if (ms < static_cast<double>(range->min) || ms > static_cast<double>(range->max)) {
    return Status::InvalidArgument("--timeout " + text + " is outside 1ms to 24h");
  }
  return static_cast<int64_t>(ms);
}

SandboxOptions OptionsFrom(const ExecFlags& f) {
  SandboxOptions o;
  o.python = f.python;
  o.tier = f.tier;
  o.allow_tier_c = f.allow_tier_c;
  o.mode = f.mode;
  o.backend = f.backend;
  return o;
}

int PrintInfo(const ExecFlags& f) {
  SandboxOptions options = OptionsFrom(f);
  std::printf("python: %s\n", options.python.c_str());
  for (const TierProbe& p : ProbeTiers(options)) {
    std::printf("tier %s: %s (%s)\n", p.tier.c_str(), p.usable ? "usable" : "unusable",
                p.detail.c_str());
  }
  const std::vector<std::string> candidates = {
      "numpy",  "sympy",     "scipy",     "networkx", "pandas", "matplotlib", "constraint",
      "mpmath", "itertools", "fractions", "decimal",  "math",   "re",         "collections"};
  auto packages = ImportablePackages(options, candidates);
  if (!packages.ok()) {
    std::fprintf(stderr, "codesweep exec: %s\n", packages.status().message().c_str());
    return 1;
  }
  std::printf("importable:");
  for (const std::string& p : *packages) std::printf(" [%s]", p.c_str());
  std::printf("\nnot importable:");
  for (const std::string& c : candidates) {
    bool found = false;
    for (const std::string& p : *packages) found = found || p == c || p.rfind(c + " ", 0) == 0;
    if (!found) std::printf(" [%s]", c.c_str());
  }
  std::printf("\n");
  return 0;
}

void PrintResult(const ExecResult& r, bool json) {
  if (json) {
    nlohmann::json j = {{"status", ExecStatusName(r.status)},
                        {"exit_code", r.exit_code},
                        {"signal", r.signal},
                        {"wall_ms", r.wall_ms},
                        {"cpu_ms", r.cpu_ms},
                        {"peak_rss_kb", r.peak_rss_kb},
                        {"stdout", r.stdout_text},
                        {"stderr", r.stderr_text},
                        {"stdout_truncated", r.stdout_truncated},
                        {"stderr_truncated", r.stderr_truncated},
                        {"tier", r.tier},
                        {"backend", r.backend}};
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return;
  }
  std::cout << r.stdout_text;
  std::cerr << r.stderr_text;
  std::fprintf(
      stderr,
      "-- status=%s exit=%d signal=%d wall_ms=%lld cpu_ms=%lld peak_rss_kb=%lld tier=%s%s%s%s%s\n",
      std::string(ExecStatusName(r.status)).c_str(), r.exit_code, r.signal,
      static_cast<long long>(r.wall_ms), static_cast<long long>(r.cpu_ms),
      static_cast<long long>(r.peak_rss_kb), r.tier.c_str(),
      r.backend.empty() ? "" : " backend=", r.backend.c_str(),
      r.stdout_truncated ? " stdout_truncated" : "", r.stderr_truncated ? " stderr_truncated" : "");
}

int RunExec(const ExecFlags& f) {
  if (f.info) return PrintInfo(f);
  if (f.file.empty()) {
    std::fprintf(stderr, "codesweep exec: FILE.py is required (or --info)\n");
    return 2;
  }
  std::ifstream in(f.file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "codesweep exec: cannot read %s\n", f.file.c_str());
    return 2;
  }
  std::stringstream code;
  code << in.rdbuf();
  Result<int64_t> wall = ParseDurationMs(f.timeout);
  if (!wall.ok()) {
    std::fprintf(stderr, "codesweep exec: %s\n", wall.status().message().c_str());
    return 2;
  }
  Logger logger(stderr, LogLevel::kWarn, "exec");
  auto executor = MakeSandbox(OptionsFrom(f), logger);
  if (!executor.ok()) {
    std::fprintf(stderr, "codesweep exec: %s\n", executor.status().message().c_str());
    return 1;
  }
  ExecRequest request;
  request.code = code.str();
  request.limits.wall_ms = *wall;
  request.limits.cpu_ms = *wall + 1000;
  auto result = (*executor)->Run(request);
  if (!result.ok()) {
    std::fprintf(stderr, "codesweep exec: %s\n", result.status().message().c_str());
    return 1;
  }
  PrintResult(*result, f.json);
  return result->status == ExecStatus::kOk ? 0 : 1;
}

}  // namespace

CommandAction SetupExecCommand(CLI::App& sub) {
  auto flags = std::make_shared<ExecFlags>();
  sub.add_option("file", flags->file, "Python file to run");
  sub.add_option("--tier", flags->tier, "Isolation tier: auto, A, B or C")
      ->check(CLI::IsMember({"auto", "A", "B", "C"}));
  sub.add_flag("--allow-tier-c", flags->allow_tier_c,
               "Allow tier C (seccomp + rlimits only; weaker isolation)");
  sub.add_option("--mode", flags->mode, "fresh or forkserver")
      ->check(CLI::IsMember({"fresh", "forkserver"}));
  sub.add_option("--backend", flags->backend,
                 "Tier A in fresh mode: auto (native namespaces, else bubblewrap), native or bwrap")
      ->check(CLI::IsMember({"auto", "native", "bwrap"}));
  sub.add_option("--timeout", flags->timeout, "Wall-clock limit, e.g. 10s or 500ms");
  sub.add_option("--python", flags->python, "Absolute path of the interpreter");
  sub.add_flag("--json", flags->json, "Print the result as one JSON object");
  sub.add_flag("--info", flags->info, "List tier probes and importable packages");
  return [flags] { return RunExec(*flags); };
}

}  // namespace codesweep
