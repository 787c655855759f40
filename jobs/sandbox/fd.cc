// UniqueFd and MakePipe.
#include "jobs/sandbox/fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace codesweep {

void UniqueFd::Reset(int fd) {
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
}

Result<Pipe> MakePipe() {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return Status::IoError(std::string("pipe: ") + strerror(errno));
  Pipe out;
  out.read.Reset(p[0]);
  out.write.Reset(p[1]);
  return out;
}

}  // namespace codesweep
