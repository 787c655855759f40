// Disk full (docs/operations.md, "Disk full"): `codesweep run` on a database whose file system
// fills up stops with exit status 1 and an error naming the database file; the file passes
// PRAGMA integrity_check; after space is freed the same command resumes and finishes with
// exactly one result per cell. The file system is a size-limited tmpfs, so the test needs root
// (as in CI) and skips, saying why, without it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "tests/integration/engine/harness.h"

namespace codesweep::testing {
namespace {

using ::testing::HasSubstr;

// A tmpfs of `bytes` mounted for the test's lifetime.
class SmallFs {
 public:
  SmallFs(const std::string& dir, int64_t bytes) : dir_(dir) {
    std::filesystem::create_directories(dir_);
    std::string opts = "size=" + std::to_string(bytes) + ",mode=0700";
    if (mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = std::strerror(errno);
    }
  }
  ~SmallFs() {
    if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string error_;
};

// Fills the file system with a ballast file, leaving about `leave` bytes free.
bool FillLeaving(const std::string& path, int64_t fs_bytes, int64_t leave) {
  std::ofstream out(path, std::ios::binary);
  std::string block(4096, 'x');
  for (int64_t n = 0; n + leave < fs_bytes - 64 * 1024 && out; n += 4096) out << block;
  out.flush();
  return static_cast<bool>(out);
}

// The line of `log` that starts with `prefix` (the command's final error), or "".
std::string ErrorLine(const std::string& log, const std::string& prefix) {
  size_t at = log.rfind("\n" + prefix);
  if (at == std::string::npos)
    return log.rfind(prefix, 0) == 0 ? log.substr(0, log.find('\n')) : "";
  return log.substr(at + 1, log.find('\n', at + 1) - at - 1);
}

TEST(DiskFullTest, RunStopsClearlyKeepsTheFileIntactAndResumes) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a size-limited tmpfs";
  TempDir dir;
  const int64_t fs_bytes = 48 << 20;  // room for the finished database (~4 KiB a cell)
  SmallFs fs(dir / "small", fs_bytes);
  if (!fs.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here: " << fs.error();
  std::string sweep = WriteSweep(dir, "diskfull", 1000);  // 4,000 cells
  const int64_t cells = 4000;
  std::string db = dir / "small/sweep.db";
  std::string ballast = dir / "small/ballast";
  ASSERT_TRUE(FillLeaving(ballast, fs_bytes, 3 << 19));  // ~1.5 MiB: the grid fits, results do not

  Proc full({Binary(), "run", sweep, "--db", db, "--workers", "2", "--quiet"}, dir / "full.log");
  ASSERT_TRUE(full.Wait(120'000)) << full.log();
  EXPECT_EQ(full.exit_code(), 1) << full.log();
  std::string error = ErrorLine(full.log(), "codesweep run: ");
  EXPECT_THAT(error, ::testing::Not(HasSubstr("ResourceExhausted")));  // no internal code names
  EXPECT_THAT(error, HasSubstr("sweep.db: "));
  EXPECT_THAT(error, HasSubstr("database or disk is full"));
  EXPECT_THAT(error, HasSubstr("free space"));
  EXPECT_THAT(full.log(), ::testing::Not(HasSubstr("INSERT")));
  EXPECT_THAT(full.log(), ::testing::Not(HasSubstr("UPDATE")));

  std::filesystem::remove(ballast);
  Query(db, "SELECT 1");  // reading needs no space
  QueryTable check = Query(db, "PRAGMA integrity_check");
  ASSERT_EQ(check.rows.size(), 1u);
  EXPECT_EQ(check.rows[0][0].value_or(""), "ok");

  Proc resume({Binary(), "run", sweep, "--db", db, "--workers", "2", "--quiet"},
              dir / "resume.log");
  ASSERT_TRUE(resume.Wait(240'000)) << resume.log();
  ASSERT_EQ(resume.exit_code(), 0) << resume.log();
  ExpectExactlyOnce(db, cells);
  QueryTable after = Query(db, "PRAGMA integrity_check");
  ASSERT_EQ(after.rows.size(), 1u);
  EXPECT_EQ(after.rows[0][0].value_or(""), "ok");
}

}  // namespace
}  // namespace codesweep::testing
