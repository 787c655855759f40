// bench_llm: throughput, CPU and memory of the HTTP provider client against fakellm.
//   1. N concurrent callers (default 2,000; one thread each, like worker slots) against fakellm
//      with 1 s latency for D seconds: completed calls/s, client CPU (cores), RSS per in-flight
//      call.
//   2. Zero latency, one caller: median round trip per call, and the CPU per call of the client
//      and of fakellm apart (the client's own cost is its CPU; the round trip includes the
//      server's work and loopback).
// Usage: bench_llm [--inflight N] [--seconds D] [--calls C] [--fakellm PATH]
//                  [--server-threads T]
// fakellm is started as a child (default: the one beside bench/; --server-threads is passed on
// as its --threads, e.g. to compare with a thread-per-connection build).
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "jobs/llm/http.h"
#include "jobs/llm/providers.h"
#include "tools/bench/proc_stats.h"

namespace codesweep {
namespace {

using SteadyClock = std::chrono::steady_clock;

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int64_t RssKb() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("VmRSS:")) return std::atoll(line.c_str() + 6);
  }
  return 0;
}

// fakellm sits in the build directory, one level above bench/.
std::string FakeLlmPath() {
  char self[4096] = {0};
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  std::string dir = n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string(".");
  dir = dir.substr(0, dir.rfind('/'));
  return dir.substr(0, dir.rfind('/')) + "/fakellm";
}

struct Flags {
  int inflight = 2000, seconds = 10, calls = 2000, server_threads = 0;
  std::string fakellm = FakeLlmPath();
};

struct Child {
  pid_t pid = -1;
  int port = 0;
};

Child StartFakeLlm(const Flags& flags, const std::string& latency_ms) {
  int out[2];
  if (pipe(out) != 0) return {};
  Child c;
  c.pid = fork();
  if (c.pid == 0) {
    setpgid(0, 0);
    dup2(out[1], 1);
    std::vector<std::string> args = {flags.fakellm, "--port", "0", "--latency-ms", latency_ms};
    if (flags.server_threads > 0) {
      args.insert(args.end(), {"--threads", std::to_string(flags.server_threads)});
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(flags.fakellm.c_str(), argv.data());
    _exit(127);
  }
  close(out[1]);
  char buf[32] = {0};
  pollfd p{out[0], POLLIN, 0};
  if (poll(&p, 1, 20'000) > 0 && read(out[0], buf, sizeof(buf) - 1) > 0) c.port = std::atoi(buf);
  close(out[0]);
  return c;
}

void StopChild(const Child& c) {
  kill(-c.pid, SIGTERM);
  int status = 0;
  waitpid(c.pid, &status, 0);
}

std::unique_ptr<LlmClient> MakeClient(int port, std::shared_ptr<HttpEngine> http) {
  ProviderEnv env;
  env.http = std::move(http);
  nlohmann::json o = {{"base_url", "http://127.0.0.1:" + std::to_string(port) + "/v1"},
                      {"api_key_env", ""},
                      {"price", {{"input", 1.0}, {"output", 1.0}}}};
  return std::move(MakeProviderClient({"openai:bench", "openai", "bench", o.dump()}, env)).value();
}

LlmRequest Request(int i) {
  LlmRequest r;
  r.messages = {
      {.role = "system", .content = "You are a calculator."},
      {.role = "user", .content = "Compute " + std::to_string(i) + " * 7. Answer as <<<n>>>."}};
  return r;
}

struct LoadState {
  int port = 0;
  std::shared_ptr<HttpEngine> http;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> done{0};
  std::atomic<int64_t> failed{0};
  std::atomic<int> started{0};
};

void* Caller(void* arg) {
  auto* s = static_cast<LoadState*>(arg);
  auto client = MakeClient(s->port, s->http);
  const int id = s->started.fetch_add(1);
  for (int i = 0; !s->stop.load(); ++i) {
    Result<LlmResponse> r = client->Complete(Request(id * 100000 + i));
    (r.ok() ? s->done : s->failed).fetch_add(1);
  }
  return nullptr;
}

void RunLoad(const Flags& flags) {
  const int inflight = flags.inflight, seconds = flags.seconds;
  Child fake = StartFakeLlm(flags, "1000");
  LoadState s;
  s.port = fake.port;
  s.http = *MakeHttpEngine();
  const int64_t rss0 = RssKb();
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  std::vector<pthread_t> threads(static_cast<size_t>(inflight));
  for (pthread_t& t : threads) pthread_create(&t, &attr, Caller, &s);
  // Warm up 3 s (connections open), then measure.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const int64_t d0 = s.done.load();
  const double cpu0 = CpuSeconds(), server_cpu0 = codesweep::bench::ProcCpuSeconds(fake.pid);
  const auto t0 = SteadyClock::now();
  int64_t max_inflight = 0, rss_sum = 0, samples = 0;
  while (SteadyClock::now() - t0 < std::chrono::seconds(seconds)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    max_inflight = std::max(max_inflight, s.http->in_flight());
    rss_sum += RssKb();
    ++samples;
  }
  const double wall = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  const double cpu = CpuSeconds() - cpu0;
  const double server_cpu = codesweep::bench::ProcCpuSeconds(fake.pid) - server_cpu0;
  const int64_t calls = s.done.load() - d0;
  s.stop = true;
  for (pthread_t& t : threads) pthread_join(t, nullptr);
  StopChild(fake);
  const double rss_kb = static_cast<double>(rss_sum) / std::max<int64_t>(1, samples);
  std::printf(
      "load: callers=%d latency=1000ms window=%.1fs completed=%lld (%.0f calls/s) failed=%lld\n",
      inflight, wall, static_cast<long long>(calls), calls / wall,
      static_cast<long long>(s.failed.load()));
  std::printf(
      "load: client cpu=%.2f cores (fakellm %.2f)  max in-flight transfers=%lld  rss=%.0f KB"
      " (baseline %lld KB)  rss per in-flight call=%.1f KB\n",
      cpu / wall, server_cpu / wall, static_cast<long long>(max_inflight), rss_kb,
      static_cast<long long>(rss0), (rss_kb - static_cast<double>(rss0)) / inflight);
}

void RunOverhead(const Flags& flags) {
  const int calls = flags.calls;
  Child fake = StartFakeLlm(flags, "0");
  auto client = MakeClient(fake.port, *MakeHttpEngine());
  for (int i = 0; i < 50; ++i) (void)client->Complete(Request(i));  // warm the connection
  std::vector<double> us;
  const double cpu0 = CpuSeconds(), server_cpu0 = codesweep::bench::ProcCpuSeconds(fake.pid);
  for (int i = 0; i < calls; ++i) {
    const auto t = SteadyClock::now();
    Result<LlmResponse> r = client->Complete(Request(i));
    us.push_back(std::chrono::duration<double, std::micro>(SteadyClock::now() - t).count());
    if (!r.ok()) std::printf("error: %s\n", r.status().ToString().c_str());
  }
  const double cpu = CpuSeconds() - cpu0;
  const double server_cpu = codesweep::bench::ProcCpuSeconds(fake.pid) - server_cpu0;
  StopChild(fake);
  std::sort(us.begin(), us.end());
  std::printf(
      "overhead: calls=%d zero-latency round trip median=%.0f us p90=%.0f us;"
      " client cpu per call=%.0f us; fakellm cpu per call=%.0f us\n",
      calls, us[us.size() / 2], us[us.size() * 9 / 10], cpu / calls * 1e6,
      server_cpu / calls * 1e6);
}

}  // namespace
}  // namespace codesweep

int main(int argc, char** argv) {
  codesweep::Flags flags;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--inflight") flags.inflight = std::atoi(argv[i + 1]);
    if (a == "--seconds") flags.seconds = std::atoi(argv[i + 1]);
    if (a == "--calls") flags.calls = std::atoi(argv[i + 1]);
    if (a == "--fakellm") flags.fakellm = argv[i + 1];
    if (a == "--server-threads") flags.server_threads = std::atoi(argv[i + 1]);
  }
  signal(SIGPIPE, SIG_IGN);
  codesweep::RunOverhead(flags);
  codesweep::RunLoad(flags);
  return 0;
}
