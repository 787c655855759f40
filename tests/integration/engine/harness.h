// Test harness for engine integration and fault tests: temp dirs, real `codesweep` processes in
// their own process groups (killed at teardown), deadline-based waits, sweep files for the
// zero-latency sim model, and read-only queries of the result database. Header-only; one test
// thread uses it.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "coordinator/store/report_queries.h"

namespace codesweep::testing {

inline std::string Binary() { return std::string(CODESWEEP_BINARY_DIR) + "/codesweep"; }

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Polls `pred` every 20 ms until it holds or `timeout_ms` passes.
inline bool WaitFor(const std::function<bool()>& pred, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

class Proc {
 public:
  Proc(const std::vector<std::string>& args, const std::string& log_path) : log_(log_path) {
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> argv;
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    setpgid(pid_, pid_);
  }
  ~Proc() { Kill(SIGKILL); }
  Proc(const Proc&) = delete;
  Proc& operator=(const Proc&) = delete;

  void Signal(int sig) {
    if (running()) kill(-pid_, sig);
  }
  void Kill(int sig) {
    if (!running()) return;
    kill(-pid_, sig);
    if (sig == SIGKILL) Wait(10'000);
  }
  bool running() {
    Reap();
    return !exited_;
  }
  // Waits for exit; true when it exited within the timeout.
  bool Wait(int timeout_ms) {
    return WaitFor([&] { return !running(); }, timeout_ms);
  }
  // The exit status; -N when killed by signal N (-11: SIGSEGV, -6: abort), as Python reports it.
  int exit_code() const {
    if (WIFSIGNALED(status_)) return -WTERMSIG(status_);
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
  }
  // SIGTERM (a worker drains, a coordinator stops), then the exit code; -100 if it was still
  // running after `timeout_ms` (it is SIGKILLed at teardown).
  int Stop(int timeout_ms = 15'000) {
    Signal(SIGTERM);
    return Wait(timeout_ms) ? exit_code() : -100;
  }
  std::string log() const { return ReadFile(log_); }

 private:
  void Reap() {
    if (exited_ || pid_ <= 0) {
      exited_ = true;
      return;
    }
    if (waitpid(pid_, &status_, WNOHANG) == pid_) exited_ = true;
  }
  pid_t pid_ = -1;
  int status_ = 0;
  bool exited_ = false;
  std::string log_;
};

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cs_engine_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A sweep of `4 * samples` number_multiply cells on a zero-latency, text-only sim model.
inline std::string WriteSweep(const TempDir& dir, const std::string& name, int samples,
                              int latency_ms = 0) {
  std::string path = dir / (name + ".toml");
  std::ofstream out(path);
  out << "name = \"" << name << "\"\nseed = 7\nsamples = " << samples
      << "\nmax_attempts = 20\nmethods = [\"only_question\"]\n\n[[tasks]]\n"
      << "name = \"number_multiply\"\ncomplexity = [\"1_2\", \"2_2\", \"3_3\", \"2_3\"]\n\n"
      << "[models.\"sim:fast\"]\np_correct = 0.7\np_code = 0.0\nlatency_ms = " << latency_ms
      << "\n";
  return path;
}

inline QueryTable Query(const std::string& db, const std::string& sql) {
  Result<std::unique_ptr<ReportDb>> r = ReportDb::Open(db);
  if (!r.ok()) return {};
  Result<QueryTable> t = (*r)->Query(sql);
  return t.ok() ? *t : QueryTable{};
}

inline int64_t QueryInt(const std::string& db, const std::string& sql) {
  QueryTable t = Query(db, sql);
  if (t.rows.empty() || t.rows[0].empty() || !t.rows[0][0]) return -1;
  return std::atoll(t.rows[0][0]->c_str());
}

// Parses "listening on tcp://..." from a coordinator's log.
inline std::string WaitForEndpoint(Proc& coord, int timeout_ms) {
  std::string endpoint;
  WaitFor(
      [&] {
        std::string log = coord.log();
        size_t at = log.find("listening on tcp://");
        if (at == std::string::npos) return false;
        size_t end = log.find('\n', at);
        if (end == std::string::npos) return false;
        endpoint = log.substr(at + 13, end - at - 13);
        return true;
      },
      timeout_ms);
  return endpoint;
}

inline std::vector<std::string> CoordinatorArgs(const std::string& sweep, const std::string& db,
                                                const std::string& bind) {
  return {Binary(),           "coordinator", sweep, "--db",       db,  "--bind",     bind,
          "--exit-when-done", "--hb-ms",     "200", "--liveness", "3", "--lease-ms", "4000",
          "--grace-ms",       "1500"};
}

inline std::vector<std::string> WorkerArgs(const std::string& endpoint, int slots) {
  return {Binary(), "worker", "--connect", endpoint, "--slots", std::to_string(slots)};
}

// Where a run stands, for a test's failure message: "jobs pending=.. leased=.. done=..".
inline std::string JobStates(const std::string& db) {
  QueryTable t = Query(db, "SELECT state, count(*) FROM jobs GROUP BY state ORDER BY state");
  std::string out = "jobs";
  for (const auto& row : t.rows) {
    if (row.size() == 2 && row[0] && row[1]) out += " " + *row[0] + "=" + *row[1];
  }
  return t.rows.empty() ? out + " (none readable)" : out;
}

// Every cell of the sweep has exactly one result and every job is done.
inline void ExpectExactlyOnce(const std::string& db, int64_t cells) {
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM jobs WHERE state = 'done'"), cells);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM results"), cells);
  EXPECT_EQ(QueryInt(db, "SELECT count(DISTINCT job_id) FROM results"), cells);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM v_results"), cells);
}

}  // namespace codesweep::testing
