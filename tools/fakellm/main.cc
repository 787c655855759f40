// fakellm: a local OpenAI/Anthropic-compatible LLM server with rate limits and fault injection,
// for tests and benchmarks. Prints the bound port on stdout's first line; stops on SIGTERM/SIGINT.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "tools/fakellm/fake_server.h"

namespace {

using codesweep::fakellm::FakeConfig;
using codesweep::fakellm::ServerOptions;

void AddFlags(CLI::App& app, ServerOptions& o, FakeConfig& c) {
  app.add_option("--host", o.host, "address to bind");
  app.add_option("--port", o.port, "port (0 = any free port, printed on stdout)");
  app.add_option("--threads", o.threads, "I/O threads (connections are multiplexed)");
  app.add_option("--replay", o.replay_path, "scripted responses (JSON, see docs/llm.md)");
  app.add_option("--record", o.record_path, "append answered requests as JSONL");
  app.add_option("--data-dir", o.data_dir, "tasks' data directory (sim answers)");
  app.add_option("--rpm", c.rpm, "requests per minute per API key (0 = unlimited)");
  app.add_option("--tpm", c.tpm, "tokens per minute per API key (0 = unlimited)");
  app.add_option("--burst-s", c.burst_s, "bucket capacity in seconds of refill (default 60)");
  app.add_option("--count-rejected", c.count_rejected,
                 "a 429'd request still counts against the RPM budget (default false)");
  app.add_option("--latency-ms", c.latency_ms, "mean latency");
  app.add_option("--latency-jitter-ms", c.latency_jitter_ms, "uniform +/- jitter");
  app.add_option("--latency-dist", c.latency_dist, "uniform or exponential");
  app.add_option("--latency-key", c.latency_key,
                 "admission (each request draws anew) or prompt (the same messages, the same "
                 "latency)");
  app.add_option("--p500", c.p_500, "rate of 500 responses");
  app.add_option("--p502", c.p_502, "rate of 502 responses");
  app.add_option("--p503", c.p_503, "rate of 503 responses");
  app.add_option("--p-drop", c.p_drop, "rate of dropped connections");
  app.add_option("--p-truncate", c.p_truncate, "rate of truncated JSON bodies");
  app.add_option("--p-slow", c.p_slow, "rate of answers delayed by --slow-ms");
  app.add_option("--p-oversize", c.p_oversize, "rate of oversized bodies");
  app.add_option("--p-empty", c.p_empty, "rate of 200 answers with an empty body");
  app.add_option("--context-tokens", c.context_tokens,
                 "context length: longer prompts are cut silently (0 = none)");
  app.add_option("--slow-ms", c.slow_ms, "delay of a slow answer");
  app.add_option("--oversize-bytes", c.oversize_bytes, "padding of an oversized body");
  app.add_option("--valid-keys", c.valid_keys, "comma-separated accepted API keys (default any)");
  app.add_option("--sim-options", c.sim_options, "SimOptions JSON for X-Codesweep-Cell answers");
  app.add_option("--seed", c.seed, "seed for latency and fault draws");
}

}  // namespace

int main(int argc, char** argv) {
  ServerOptions options;
  options.data_dir = codesweep::DefaultDataDir();
  FakeConfig config;
  CLI::App app{"fakellm: local OpenAI/Anthropic-compatible test server"};
  AddFlags(app, options, config);
  CLI11_PARSE(app, argc, argv);
  FakeConfig checked;
  if (codesweep::Status s =
          codesweep::fakellm::PatchConfig(codesweep::fakellm::ConfigToJson(config), &checked);
      !s.ok()) {
    std::fprintf(stderr, "fakellm: %s\n", s.ToString().c_str());
    return 2;
  }
  // Signals are taken by one thread with sigwait; every other thread has them blocked.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  codesweep::Logger logger(stderr, codesweep::LogLevel::kInfo, "fakellm");
  codesweep::fakellm::FakeServer server(options, checked, &logger);
  codesweep::Result<int> port = server.Bind();
  if (!port.ok()) {
    std::fprintf(stderr, "fakellm: %s\n", port.status().ToString().c_str());
    return 1;
  }
  std::printf("%d\n", *port);
  std::fflush(stdout);
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    server.Stop();  // also ends a Serve() that has not started yet
  });
  server.Serve();
  pthread_kill(waiter.native_handle(), SIGTERM);  // wakes sigwait if no signal came
  waiter.join();
  return 0;
}
