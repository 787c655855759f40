// A real single-node Slurm cluster on loopback (munged + slurmctld + slurmd, config written
// here, in a temp dir) runs tools/deploy/slurm/codesweep-workers.sbatch against a coordinator:
// scancel mid-sweep drains the workers (exit 0, nothing lost), a second array finishes the sweep.
// Installs Debian's slurm-wlm and munge when missing; skips when that is impossible.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/integration/engine/harness.h"

namespace codesweep::testing {
namespace {

int Sh(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[512];
  std::string text;
  while (fgets(buf, sizeof(buf), p)) text += buf;
  int rc = pclose(p);
  if (out) *out = text;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

bool HaveSlurm() {
  return Sh("command -v slurmctld && command -v slurmd && command -v munged && command -v "
            "sbatch") == 0;
}

// "" when slurm and munge are installed (installing them if needed), else why not.
std::string EnsureSlurm() {
  if (HaveSlurm()) return "";
  if (geteuid() != 0) return "slurm-wlm/munge missing and not root to install them";
  std::string out;
  std::string install =
      "DEBIAN_FRONTEND=noninteractive timeout 240 apt-get install -y --no-install-recommends "
      "slurm-wlm munge";
  if (Sh(install, &out) != 0 &&
      (Sh("timeout 120 apt-get update", &out) != 0 || Sh(install, &out) != 0)) {
    return "apt-get could not install slurm-wlm munge: " +
           out.substr(out.size() > 400 ? out.size() - 400 : 0);
  }
  return HaveSlurm() ? "" : "slurm binaries still missing after apt-get";
}

std::string Hostname() {
  char h[256] = {0};
  gethostname(h, sizeof(h) - 1);
  return h;
}

class SlurmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (slurmd runs jobs as root here)";
    std::string why = EnsureSlurm();
    if (!why.empty()) GTEST_SKIP() << why;
    std::filesystem::create_directories(dir_ / "state");
    std::filesystem::create_directories(dir_ / "spool");
    ASSERT_NO_FATAL_FAILURE(StartMunge());
    WriteConf();
    setenv("SLURM_CONF", conf().c_str(), 1);
    ctld_ = std::make_unique<Proc>(
        std::vector<std::string>{"/usr/sbin/slurmctld", "-D", "-i", "-f", conf()},
        dir_ / "slurmctld.out");
    slurmd_ = std::make_unique<Proc>(
        std::vector<std::string>{"/usr/sbin/slurmd", "-D", "-N", "csnode", "-f", conf()},
        dir_ / "slurmd.out");
    std::string out;
    bool up = WaitFor(
        [&] { return Sh("sinfo -h -N -o %T", &out) == 0 && out.find("idle") != std::string::npos; },
        60'000);
    ASSERT_TRUE(up) << "node never idle: " << out << "\nslurmctld: " << ReadFile(dir_ / "ctld.log")
                    << "\nslurmd: " << ReadFile(dir_ / "slurmd.log");
  }

  void TearDown() override {
    Sh("scancel --quiet -u root");
    // Let slurmd see every job step out (slurmstepd lives in its own session), then stop it.
    std::string out;
    WaitFor([&] { return Sh("squeue -h -o %i", &out) != 0 || out.empty(); }, 60'000);
    slurmd_.reset();  // SIGKILL to the process group
    ctld_.reset();
    if (munge_pid_ > 0 && kill(munge_pid_, SIGTERM) == 0) {
      WaitFor([&] { return kill(munge_pid_, 0) != 0; }, 10'000);  // it removes its pid file
    }
    unsetenv("SLURM_CONF");
  }

  void StartMunge() {
    std::string key = dir_ / "munge.key";
    ASSERT_EQ(Sh("dd if=/dev/urandom of=" + key + " bs=1024 count=1 && chmod 0400 " + key), 0);
    std::string out;
    int rc =
        Sh("munged -f --key-file=" + key + " --socket=" + (dir_ / "munge.socket") +
               " --pid-file=" + (dir_ / "munged.pid") + " --log-file=" + (dir_ / "munged.log") +
               " --seed-file=" + (dir_ / "munged.seed"),
           &out);
    ASSERT_EQ(rc, 0) << out << ReadFile(dir_ / "munged.log");
    ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(dir_ / "munged.pid"); }, 5'000));
    munge_pid_ = std::atoi(ReadFile(dir_ / "munged.pid").c_str());
  }

  void WriteConf() {
    int base = 20000 + getpid() % 20000;
    std::ofstream c(conf());
    c << "ClusterName=cstest\nSlurmctldHost=" << Hostname() << "(127.0.0.1)\n"
      << "SlurmctldPort=" << base << "\nSlurmdPort=" << base + 1 << "\n"
      << "AuthType=auth/munge\nCredType=cred/munge\nAuthInfo=socket=" << (dir_ / "munge.socket")
      << "\nSlurmUser=root\nSlurmdUser=root\nStateSaveLocation=" << (dir_ / "state")
      << "\nSlurmdSpoolDir=" << (dir_ / "spool") << "\nSlurmctldPidFile=" << (dir_ / "ctld.pid")
      << "\nSlurmdPidFile=" << (dir_ / "slurmd.pid") << "\nSlurmctldLogFile=" << (dir_ / "ctld.log")
      << "\nSlurmdLogFile=" << (dir_ / "slurmd.log") << "\n"
      << "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\nMpiDefault=none\n"
      << "SelectType=select/cons_tres\nSelectTypeParameters=CR_CPU\nSchedulerType=sched/backfill\n"
      << "JobAcctGatherType=jobacct_gather/none\nAccountingStorageType=accounting_storage/none\n"
      << "ReturnToService=2\nKillWait=30\nSlurmdTimeout=60\nMinJobAge=60\n"
      << "NodeName=csnode NodeAddr=127.0.0.1 NodeHostname=" << Hostname()
      << " CPUs=" << sysconf(_SC_NPROCESSORS_ONLN) << " RealMemory=1000 State=UNKNOWN\n"
      << "PartitionName=debug Nodes=csnode Default=YES MaxTime=INFINITE State=UP\n";
  }

  // Submits the deploy script as an array; returns the job id.
  std::string Submit(const std::string& array, const std::string& endpoint) {
    std::string script =
        std::string(CODESWEEP_SOURCE_DIR) + "/tools/deploy/slurm/codesweep-workers.sbatch";
    std::string out;
    std::string cmd =
        "CODESWEEP=" + Binary() + " CODESWEEP_CONNECT=" + endpoint +
        " CODESWEEP_SLOTS=2 CODESWEEP_DRAIN_MS=20000 sbatch --parsable --array=" + array +
        " --cpus-per-task=1 --mem-per-cpu=10M --chdir=" + (dir_ / "") +
        " --output=" + (dir_ / "w-%A_%a.log") + " " + script;
    EXPECT_EQ(Sh(cmd, &out), 0) << out;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out.substr(0, out.find(';'));
  }

  int Running(const std::string& job) {
    std::string out;
    Sh("squeue -h -j " + job + " -t RUNNING -o %i", &out);
    int n = 0;
    for (char ch : out) n += ch == '\n';
    return n;
  }

  std::string conf() const { return dir_ / "slurm.conf"; }
  std::string db() const { return dir_ / "sweep.db"; }

  TempDir dir_;
  int munge_pid_ = 0;
  std::unique_ptr<Proc> ctld_, slurmd_;
};

TEST_F(SlurmTest, WorkerArrayRunsSweepAndDrainsOnScancel) {
  std::string sweep = WriteSweep(dir_, "slurm", /*samples=*/60, /*latency_ms=*/100);
  Proc coord(CoordinatorArgs(sweep, db(), "tcp://127.0.0.1:0"), dir_ / "coord.log");
  std::string endpoint = WaitForEndpoint(coord, 20'000);
  ASSERT_FALSE(endpoint.empty()) << coord.log();

  // Four array tasks, at most two at once (the throttle).
  std::string job = Submit("0-3%2", endpoint);
  ASSERT_FALSE(job.empty());
  ASSERT_TRUE(WaitFor([&] { return QueryInt(db(), "SELECT count(*) FROM results") >= 20; }, 90'000))
      << coord.log() << ReadFile(dir_ / "slurmd.log");
  EXPECT_LE(Running(job), 2) << "the array throttle %2 was not honoured";

  // scancel mid-sweep: every running worker drains and exits 0; nothing is lost.
  ASSERT_EQ(Sh("scancel " + job), 0);
  ASSERT_TRUE(WaitFor([&] { return Running(job) == 0; }, 60'000));
  int drained = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir_ / "")) {
    std::string name = f.path().filename().string();
    if (name.rfind("w-" + job, 0) != 0) continue;
    ASSERT_TRUE(WaitFor(
        [&] { return ReadFile(f.path()).find("worker exited rc=") != std::string::npos; }, 30'000))
        << name << ": " << ReadFile(f.path());
    std::string log = ReadFile(f.path());
    EXPECT_NE(log.find("worker exited rc=0"), std::string::npos) << name << ": " << log;
    drained += log.find("draining") != std::string::npos;
  }
  EXPECT_GE(drained, 1);
  int64_t done = QueryInt(db(), "SELECT count(*) FROM jobs WHERE state = 'done'");
  EXPECT_EQ(QueryInt(db(), "SELECT count(*) FROM results"), done) << "a drained result was lost";
  ASSERT_TRUE(coord.running()) << "the sweep should not be finished yet";

  // A second array finishes the sweep; every cell has exactly one result.
  std::string job2 = Submit("0-1", endpoint);
  ASSERT_TRUE(coord.Wait(120'000)) << coord.log();
  EXPECT_EQ(coord.exit_code(), 0);
  ExpectExactlyOnce(db(), 4 * 60);
  Sh("scancel " + job2);
  EXPECT_TRUE(WaitFor([&] { return Running(job2) == 0; }, 60'000));
}

}  // namespace
}  // namespace codesweep::testing
