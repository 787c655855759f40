// Rate-limit test harness: a fakellm process (port read from its first stdout line), its /stats
// and /admin endpoints through the project's HttpEngine, and sweep files whose openai model points
// at it (answers come from the sim via X-Codesweep-Cell). Builds on the engine harness; one test
// thread.
#pragma once

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "jobs/llm/http.h"
#include "tests/integration/engine/harness.h"

namespace codesweep::testing {

inline std::string FakeLlmBinary() { return std::string(CODESWEEP_BINARY_DIR) + "/fakellm"; }

class FakeLlm {
 public:
  FakeLlm(const TempDir& dir, const std::vector<std::string>& flags)
      : proc_(Args(flags), dir / "fakellm.log") {
    WaitFor(
        [&] {
          std::string log = proc_.log();
          size_t end = log.find('\n');
          if (end == std::string::npos) return false;
          port_ = std::atoi(log.substr(0, end).c_str());
          return port_ > 0;
        },
        10'000);
  }
  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  nlohmann::json Stats() {
    nlohmann::json j = nlohmann::json::parse(Fetch("GET", "/stats", ""), nullptr, false);
    return j.is_discarded() ? nlohmann::json::object() : j;
  }
  int64_t Stat(const char* name) {
    nlohmann::json s = Stats();
    return s.contains(name) && s[name].is_number() ? s[name].get<int64_t>() : -1;
  }
  void Post(const std::string& path, const std::string& json) { Fetch("POST", path, json); }

 private:
  static std::vector<std::string> Args(const std::vector<std::string>& flags) {
    std::vector<std::string> a = {FakeLlmBinary(), "--port", "0"};
    a.insert(a.end(), flags.begin(), flags.end());
    return a;
  }
  std::string Fetch(const std::string& method, const std::string& path, const std::string& body) {
    if (!http_) {
      Result<std::shared_ptr<HttpEngine>> e = MakeHttpEngine();
      if (!e.ok()) return "";
      http_ = *e;
    }
    HttpRequest req;
    req.url = "http://127.0.0.1:" + std::to_string(port_) + path;
    req.method = method;
    req.body = body;
    req.headers = {{"Content-Type", "application/json"}};
    req.timeout_ms = 10'000;
    Result<HttpResponse> r = http_->Send(std::move(req));
    return r.ok() ? r->body : "";
  }
  Proc proc_;
  int port_ = 0;
  std::shared_ptr<HttpEngine> http_;
};

struct FakeSweep {
  std::string name = "rl";
  int samples = 10;  // per complexity; 4 complexities
  std::string method = "all_text";
  int turns = 1;
  double rpm = 0, tpm = 0;
  int max_tokens = 256;
};

// A sweep of number_multiply cells on "openai:fake" served by fakellm.
inline std::string WriteFakeSweep(const TempDir& dir, const FakeSweep& s,
                                  const std::string& base_url) {
  std::string path = dir / (s.name + ".toml");
  std::ofstream out(path);
  out << "name = \"" << s.name << "\"\nseed = 7\nsamples = " << s.samples
      << "\nmax_attempts = 3\nmethods = [\"" << s.method << "\"]\nturns = [" << s.turns
      << "]\n\n[[tasks]]\nname = \"number_multiply\"\n"
      << "complexity = [\"1_2\", \"2_2\", \"3_3\", \"2_3\"]\n\n"
      << "[models.\"openai:fake\"]\nbase_url = \"" << base_url << "\"\napi_key_env = \"\"\n"
      << "cell_context_header = true\nmax_tokens = " << s.max_tokens << "\n";
  if (s.rpm > 0) out << "rpm = " << s.rpm << "\n";
  if (s.tpm > 0) out << "tpm = " << s.tpm << "\n";
  return path;
}

// Finish times (ms) of all results, ascending.
inline std::vector<int64_t> FinishTimes(const std::string& db) {
  std::vector<int64_t> out;
  for (const auto& row : Query(db, "SELECT finished_ms FROM results ORDER BY finished_ms").rows) {
    if (!row.empty() && row[0]) out.push_back(std::atoll(row[0]->c_str()));
  }
  return out;
}

// Cells per second between the finish times at fractions `lo` and `hi` of the run.
inline double RateBetween(const std::vector<int64_t>& t, double lo, double hi) {
  if (t.size() < 10) return 0;
  size_t a = static_cast<size_t>(lo * static_cast<double>(t.size() - 1));
  size_t b = static_cast<size_t>(hi * static_cast<double>(t.size() - 1));
  if (b <= a || t[b] <= t[a]) return 0;
  return static_cast<double>(b - a) * 1000.0 / static_cast<double>(t[b] - t[a]);
}

// fakellm's successful calls and their tokens over time, sampled while a run goes on: the
// provider's view of achieved throughput (cells answered from the call cache do not count).
class StatsSampler {
 public:
  struct Sample {
    int64_t ms = 0;
    double ok = 0, tokens = 0;
  };
  explicit StatsSampler(FakeLlm& llm) : llm_(llm) {}
  static int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  // Takes a sample when the last one is at least every_ms old (call it from a WaitFor predicate).
  void Tick(int64_t every_ms = 200) {
    const int64_t now = NowMs();
    if (!samples_.empty() && now - samples_.back().ms < every_ms) return;
    nlohmann::json s = llm_.Stats();
    samples_.push_back(
        {now, s.value("ok", 0.0), s.value("tokens_in", 0.0) + s.value("tokens_out", 0.0)});
  }
  // When the ok count first reached `fraction` of the last sample's.
  int64_t MsAtFraction(double fraction) const {
    for (const Sample& x : samples_) {
      if (x.ok >= fraction * samples_.back().ok) return x.ms;
    }
    return samples_.empty() ? 0 : samples_.back().ms;
  }
  // Ok calls per second and tokens per call between the first samples at or after from_ms and
  // to_ms; {0, 0} if the window holds no calls.
  std::pair<double, double> Window(int64_t from_ms, int64_t to_ms) const {
    const Sample* a = nullptr;
    const Sample* b = nullptr;
    for (const Sample& x : samples_) {
      if (a == nullptr && x.ms >= from_ms) a = &x;
      if (b == nullptr && x.ms >= to_ms) b = &x;
    }
    if (a == nullptr || b == nullptr || b->ok <= a->ok || b->ms <= a->ms) return {0, 0};
    return {(b->ok - a->ok) * 1000.0 / static_cast<double>(b->ms - a->ms),
            (b->tokens - a->tokens) / (b->ok - a->ok)};
  }

 private:
  FakeLlm& llm_;
  std::vector<Sample> samples_;
};

}  // namespace codesweep::testing
