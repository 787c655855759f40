// Run directories: mkdtemp, write, and removal by openat/unlinkat with O_NOFOLLOW.
#include "jobs/sandbox/scratch.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

namespace codesweep {
namespace {

Status Errno(const std::string& what) {
  return Status::IoError(what + ": " + std::strerror(errno));
}

// Empties the directory open at `dir_fd` (consumed).
void EmptyDir(int dir_fd, int depth) {
  DIR* dir = fdopendir(dir_fd);
  if (dir == nullptr) {
    close(dir_fd);
    return;
  }
  std::vector<std::string> names;
  while (dirent* e = readdir(dir)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      names.emplace_back(e->d_name);
    }
  }
  int fd = dirfd(dir);
  for (const std::string& name : names) {
    if (unlinkat(fd, name.c_str(), 0) == 0) continue;
    if (errno != EISDIR && errno != EPERM) continue;
    int child = openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (child >= 0 && depth < 256) {
      fchmod(child, 0700);
      EmptyDir(child, depth + 1);
    } else if (child >= 0) {
      close(child);
    }
    unlinkat(fd, name.c_str(), AT_REMOVEDIR);
  }
  closedir(dir);
}

}  // namespace

Result<RunDir> MakeRunDir(const std::string& parent, const std::string& code, int uid, int gid) {
  std::string tmpl = parent + "/codesweep-run-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) return Errno("mkdtemp " + parent);
  RunDir dir{tmpl, tmpl + "/main.py", tmpl + "/scratch", UniqueFd()};
  dir.hold.Reset(open(dir.root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.hold.valid() || flock(dir.hold.get(), LOCK_SH) != 0) return Errno("lock " + dir.root);
  int fd = open(dir.code.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444);
  if (fd < 0) return Errno("create " + dir.code);
  size_t done = 0;
  while (done < code.size()) {
    ssize_t n = write(fd, code.data() + done, code.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      return Errno("write " + dir.code);
    }
    done += n;
  }
  close(fd);
  if (mkdir(dir.scratch.c_str(), 0700) != 0) return Errno("mkdir " + dir.scratch);
  if (uid >= 0 && chown(dir.scratch.c_str(), uid, gid) != 0) return Errno("chown scratch");
  if (chmod(dir.root.c_str(), 0711) != 0) return Errno("chmod " + dir.root);
  return dir;
}

Status RemoveTree(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::OK();
    if (unlink(path.c_str()) == 0) return Status::OK();
    return Errno("open " + path);
  }
  EmptyDir(fd, 0);
  if (rmdir(path.c_str()) != 0) return Errno("rmdir " + path);
  return Status::OK();
}

int RemoveStaleRunDirs(const std::string& parent, int64_t min_age_s) {
  const std::string prefix = "codesweep-run-";
  DIR* dir = opendir(parent.c_str());
  if (dir == nullptr) return 0;
  std::vector<std::string> candidates;
  while (dirent* e = readdir(dir)) {
    if (std::strncmp(e->d_name, prefix.c_str(), prefix.size()) == 0) {
      candidates.push_back(parent + "/" + e->d_name);
    }
  }
  closedir(dir);
  int removed = 0;
  for (const std::string& path : candidates) {
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st;
    if (!fd.valid() || fstat(fd.get(), &st) != 0) continue;
    // The fine-grained clock: a file's ctime can be finer than time()'s coarse one, which can
    // then lag behind a ctime just written (a directory made "in the future" was never reaped).
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    if (now.tv_sec - st.st_ctime < min_age_s) continue;
    if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) continue;  // a worker or monitor holds it
    removed += RemoveTree(path).ok() ? 1 : 0;
  }
  return removed;
}

}  // namespace codesweep
