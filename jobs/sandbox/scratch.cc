// Run directories: mkdtemp, write, and removal by openat/unlinkat with O_NOFOLLOW.
#include "jobs/sandbox/scratch.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
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
  RunDir dir{tmpl, tmpl + "/main.py", tmpl + "/scratch"};
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

}  // namespace codesweep
