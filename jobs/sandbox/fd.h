// UniqueFd: owns one file descriptor and closes it on destruction or Reset(); move-only, the one
// fd owner of jobs/sandbox. MakePipe makes a CLOEXEC pipe as two of them. Plain values; a
// UniqueFd belongs to one thread at a time.
#pragma once

#include <utility>

#include "base/status.h"

namespace codesweep {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership: the caller closes the returned fd.
  int Release() { return std::exchange(fd_, -1); }
  // Closes the owned fd (if any) and owns `fd` instead.
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

// A pipe whose ends are both O_CLOEXEC.
Result<Pipe> MakePipe();

}  // namespace codesweep
