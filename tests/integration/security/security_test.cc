// CURVE + ZAP end to end: an unknown worker key, a wrong server key and a plaintext client are
// refused (no job reaches them); an authorized worker completes the sweep; SIGHUP re-reads the
// authorized keys; secrets never reach logs, the database or `codesweep status --json`.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "base/log.h"
#include "tests/integration/engine/harness.h"
#include "transport/wire.h"

namespace codesweep::testing {
namespace {

constexpr int kCells = 8;  // WriteSweep: 4 complexities x 2 samples

// Runs `codesweep keygen` and returns the Z85 secret read back from NAME.key.
std::string Keygen(const TempDir& dir, const std::string& out) {
  Proc p({Binary(), "keygen", "--out", dir / out}, dir / (out + ".keygen.log"));
  EXPECT_TRUE(p.Wait(10'000));
  EXPECT_EQ(p.exit_code(), 0) << p.log();
  Result<std::string> secret = ReadCurveKeyFile(dir / (out + ".key"));
  EXPECT_TRUE(secret.ok()) << secret.status().ToString();
  EXPECT_EQ(p.log().find(secret.ok() ? *secret : "?"), std::string::npos) << "keygen printed it";
  return secret.ok() ? *secret : "";
}

std::string PublicOf(const TempDir& dir, const std::string& name) {
  Result<std::string> pub = ReadCurveKeyFile(dir / (name + ".pub"));
  return pub.ok() ? *pub : "";
}

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_ / "authorized");
    server_secret_ = Keygen(dir_, "server");
    good_secret_ = Keygen(dir_, "authorized/good");
    stranger_secret_ = Keygen(dir_, "stranger");
    Keygen(dir_, "impostor");  // a server pair the coordinator does not hold
    sweep_ = WriteSweep(dir_, "secure", 2);
  }

  void StartCoordinator(bool verbose = false, bool exit_when_done = true) {
    std::vector<std::string> args = CoordinatorArgs(sweep_, db(), "tcp://127.0.0.1:0");
    if (!exit_when_done) args.erase(std::find(args.begin(), args.end(), "--exit-when-done"));
    args.insert(args.end(),
                {"--curve-secret", dir_ / "server.key", "--authorized-keys", dir_ / "authorized"});
    if (verbose) args.push_back("-v");
    coord_ = std::make_unique<Proc>(args, dir_ / "coord.log");
    endpoint_ = WaitForEndpoint(*coord_, 15'000);
    ASSERT_FALSE(endpoint_.empty()) << coord_->log();
  }

  // A worker with the given --id and extra flags (keys), logging to dir/<id>.log.
  std::unique_ptr<Proc> StartWorker(const std::string& id, std::vector<std::string> extra) {
    std::vector<std::string> args = WorkerArgs(endpoint_, 2);
    args.insert(args.end(), {"--id", id});
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<Proc>(args, dir_ / (id + ".log"));
  }

  std::vector<std::string> Keys(const std::string& server_pub, const std::string& own) {
    return {"--server-key", dir_ / server_pub, "--curve-secret", dir_ / own};
  }

  // The refused worker runs for `ms`; no job may be finished and it never joins.
  void ExpectRefused(const std::string& id, int ms) {
    bool joined =
        WaitFor([&] { return coord_->log().find("worker=" + id) != std::string::npos; }, ms);
    EXPECT_FALSE(joined) << coord_->log();
    EXPECT_LE(QueryInt(db(), "SELECT count(*) FROM results"), 0);
  }

  void ExpectSweepCompletes() {
    ASSERT_TRUE(coord_->Wait(60'000)) << coord_->log();
    EXPECT_EQ(coord_->exit_code(), 0) << coord_->log();
    ExpectExactlyOnce(db(), kCells);
  }

  std::string db() const { return dir_ / "sweep.db"; }

  TempDir dir_;
  std::string sweep_, endpoint_;
  std::string server_secret_, good_secret_, stranger_secret_;
  std::unique_ptr<Proc> coord_;
};

TEST_F(SecurityTest, UnknownKeyRefusedUntilAuthorizedBySighup) {
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  auto stranger = StartWorker("stranger", Keys("server.pub", "stranger.key"));
  std::string pub = PublicOf(dir_, "stranger");
  ASSERT_TRUE(WaitFor(
      [&] { return coord_->log().find("refused unknown worker key " + pub) != std::string::npos; },
      10'000))
      << coord_->log();
  ExpectRefused("stranger", 1'500);
  // Authorize it and reload: the worker, still retrying, gets in and runs the sweep.
  std::filesystem::copy_file(dir_ / "stranger.pub", dir_ / "authorized/stranger.pub");
  coord_->Signal(SIGHUP);
  ASSERT_TRUE(WaitFor(
      [&] { return coord_->log().find("authorized worker keys reloaded: 2") != std::string::npos; },
      5'000))
      << coord_->log();
  ExpectSweepCompletes();
}

TEST_F(SecurityTest, WrongServerKeyRefused) {
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  auto w = StartWorker("wrongserver", Keys("impostor.pub", "authorized/good.key"));
  ExpectRefused("wrongserver", 3'000);
  EXPECT_TRUE(WaitFor([&] { return w->log().find("never welcomed") != std::string::npos; }, 8'000))
      << w->log();
}

TEST_F(SecurityTest, PlaintextClientRefused) {
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  auto w = StartWorker("plaintext", {});
  ExpectRefused("plaintext", 3'000);
}

TEST_F(SecurityTest, AuthorizedWorkerCompletesSweep) {
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  auto w = StartWorker("good", Keys("server.pub", "authorized/good.key"));
  ExpectSweepCompletes();
  EXPECT_NE(coord_->log().find("worker up worker=good"), std::string::npos);
}

TEST_F(SecurityTest, MisconfigurationsAreRefusedWithReasons) {
  Proc open_bind({Binary(), "coordinator", sweep_, "--db", db(), "--bind", "tcp://0.0.0.0:0"},
                 dir_ / "open.log");
  ASSERT_TRUE(open_bind.Wait(10'000));
  EXPECT_NE(open_bind.exit_code(), 0);
  EXPECT_NE(open_bind.log().find("without CURVE"), std::string::npos) << open_bind.log();
  Proc half(
      {Binary(), "worker", "--connect", "tcp://127.0.0.1:9", "--server-key", dir_ / "server.pub"},
      dir_ / "half.log");
  ASSERT_TRUE(half.Wait(10'000));
  EXPECT_NE(half.exit_code(), 0);
  struct stat st {};
  ASSERT_EQ(stat((dir_ / "server.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Proc again({Binary(), "keygen", "--out", dir_ / "server"}, dir_ / "again.log");
  ASSERT_TRUE(again.Wait(10'000));
  EXPECT_NE(again.exit_code(), 0) << "keygen must not overwrite a key";
}

TEST_F(SecurityTest, SecretsNeverInLogsDatabaseOrStatus) {
  ASSERT_NO_FATAL_FAILURE(StartCoordinator(/*verbose=*/true));
  std::vector<std::string> flags = Keys("server.pub", "authorized/good.key");
  flags.push_back("-v");
  auto w = StartWorker("good", flags);
  ExpectSweepCompletes();
  w->Signal(SIGTERM);
  ASSERT_TRUE(w->Wait(20'000));
  Proc status({Binary(), "status", "--db", db(), "--json"}, dir_ / "status.json");
  ASSERT_TRUE(status.Wait(20'000));
  ASSERT_EQ(status.exit_code(), 0) << status.log();
  std::vector<std::string> haystacks = {coord_->log(), w->log(), status.log(), ReadFile(db()),
                                        ReadFile(db() + "-wal")};
  ASSERT_GT(haystacks[3].size(), 0u);
  for (const std::string& secret : {server_secret_, good_secret_}) {
    ASSERT_EQ(secret.size(), 40u);
    for (size_t i = 0; i < haystacks.size(); ++i) {
      EXPECT_EQ(haystacks[i].find(secret), std::string::npos) << "secret found in haystack " << i;
    }
  }
  // The public keys may appear (they identify workers); make sure the scan can see the log.
  EXPECT_NE(coord_->log().find(PublicOf(dir_, "server")), std::string::npos);
}

// `codesweep submit` with a worker's key: a new sweep and an extension of the served one reach
// the coordinator's workers; a key it does not authorize, a bad sweep file and an endpoint where
// nothing listens each end with an error saying which.
TEST_F(SecurityTest, SubmitNewAndExtendedSweepsReachWorkers) {
  ASSERT_NO_FATAL_FAILURE(StartCoordinator(false, /*exit_when_done=*/false));
  auto w = StartWorker("good", Keys("server.pub", "authorized/good.key"));
  auto results = [&] { return QueryInt(db(), "SELECT count(*) FROM results"); };
  ASSERT_TRUE(WaitFor([&] { return results() == kCells; }, 60'000)) << JobStates(db());
  auto submit = [&](const std::string& sweep, const std::string& key, const std::string& log) {
    std::vector<std::string> args = {Binary(),  "submit",       sweep, "--connect",
                                     endpoint_, "--timeout-ms", "3000"};
    if (!key.empty()) {
      for (const std::string& k : Keys("server.pub", key)) args.push_back(k);
    }
    auto p = std::make_unique<Proc>(args, dir_ / log);
    EXPECT_TRUE(p->Wait(20'000));
    return p;
  };
  auto other = submit(WriteSweep(dir_, "other", 1), "authorized/good.key", "submit1.log");
  EXPECT_EQ(other->exit_code(), 0) << other->log();
  EXPECT_NE(other->log().find("4 cells, 4 new"), std::string::npos) << other->log();
  ASSERT_TRUE(WaitFor([&] { return results() == kCells + 4; }, 60'000)) << JobStates(db());
  // The served sweep with 3 samples instead of 2: 4 more cells.
  auto more = submit(WriteSweep(dir_, "secure", 3), "authorized/good.key", "submit2.log");
  EXPECT_EQ(more->exit_code(), 0) << more->log();
  EXPECT_NE(more->log().find("12 cells, 4 new"), std::string::npos) << more->log();
  ASSERT_TRUE(WaitFor([&] { return results() == kCells + 8; }, 60'000)) << JobStates(db());
  ExpectExactlyOnce(db(), kCells + 8);

  auto stranger = submit(WriteSweep(dir_, "stranger", 1), "stranger.key", "submit3.log");
  EXPECT_NE(stranger->exit_code(), 0);
  EXPECT_NE(stranger->log().find("no answer from"), std::string::npos) << stranger->log();
  EXPECT_NE(coord_->log().find("refused unknown worker key " + PublicOf(dir_, "stranger")),
            std::string::npos)
      << coord_->log();
  {
    std::ofstream bad(dir_ / "bad.toml");
    bad << "name = \"bad\"\nsamples = \"many\"\n";
  }
  auto invalid = submit(dir_ / "bad.toml", "authorized/good.key", "submit4.log");
  EXPECT_NE(invalid->exit_code(), 0);
  EXPECT_NE(invalid->log().find("refused it"), std::string::npos) << invalid->log();
  EXPECT_NE(invalid->log().find("bad.toml"), std::string::npos) << invalid->log();
  Proc nowhere({Binary(), "submit", dir_ / "bad.toml", "--connect", "tcp://127.0.0.1:9",
                "--timeout-ms", "300"},
               dir_ / "submit5.log");
  ASSERT_TRUE(nowhere.Wait(20'000));
  EXPECT_NE(nowhere.exit_code(), 0);
  EXPECT_NE(nowhere.log().find("no answer from tcp://127.0.0.1:9"), std::string::npos)
      << nowhere.log();
  EXPECT_EQ(QueryInt(db(), "SELECT count(*) FROM jobs"), kCells + 8);  // nothing else loaded
}

}  // namespace
}  // namespace codesweep::testing
