// The capture loop: poll over the two pipes and the control's wake fd.
#include "jobs/sandbox/capture.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace codesweep {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
constexpr milliseconds kStopRepeat{100};  // Stop() again until the run has ended
constexpr milliseconds kDrain{200};       // pipes may stay open (a leaked fd) after the end
constexpr milliseconds kNoWakeFdPoll{5};

struct Stream {
  UniqueFd fd;
  std::string* text;
  bool* truncated;
};

class Capture {
 public:
  Capture(UniqueFd out, UniqueFd err, const ExecLimits& limits, RunControl& control, RawRun& raw)
      : streams_{{std::move(out), &raw.stdout_text, &raw.stdout_truncated},
                 {std::move(err), &raw.stderr_text, &raw.stderr_truncated}},
        limits_(limits),
        control_(control),
        raw_(raw) {}

  void Run(Clock::time_point start) {
    deadline_ = start + milliseconds(limits_.wall_ms);
    while (!Done()) {
      bool woke = PollAndRead();
      if (ended_) continue;
      if ((woke || stopping_ || control_.wake_fd() < 0) && control_.Ended()) {
        ended_ = true;
        drain_until_ = Clock::now() + kDrain;
        continue;
      }
      EnforceLimits(Clock::now());
    }
  }

 private:
  bool Done() const {
    bool open = streams_[0].fd.valid() || streams_[1].fd.valid();
    return ended_ && (!open || Clock::now() >= drain_until_);
  }

  // Waits for output or the wake fd until the next thing to do; reads what is there. Returns
  // whether the wake fd was readable.
  bool PollAndRead() {
    Clock::time_point wake = ended_ ? drain_until_ : stopping_ ? next_stop_ : deadline_;
    int64_t ms = std::chrono::duration_cast<milliseconds>(wake - Clock::now()).count();
    ms = std::clamp<int64_t>(ms, 0, 1000);
    int wake_fd = ended_ ? -1 : control_.wake_fd();
    if (!ended_ && wake_fd < 0) ms = std::min<int64_t>(ms, kNoWakeFdPoll.count());
    pollfd p[3] = {
        {streams_[0].fd.get(), POLLIN, 0}, {streams_[1].fd.get(), POLLIN, 0}, {wake_fd, POLLIN, 0}};
    if (poll(p, 3, static_cast<int>(ms)) <= 0) return false;
    for (int i = 0; i < 2; ++i) {
      if (p[i].revents != 0) Read(streams_[i]);
    }
    return p[2].revents != 0;
  }

  void Read(Stream& s) {
    char buf[65536];
    ssize_t n = read(s.fd.get(), buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
      s.fd.Reset();
      return;
    }
    total_ += n;
    size_t keep = static_cast<size_t>(limits_.keep_output_bytes);
    size_t room = keep - std::min(s.text->size(), keep);
    s.text->append(buf, std::min<size_t>(room, n));
    if (static_cast<size_t>(n) > room) *s.truncated = true;
  }

  void EnforceLimits(Clock::time_point now) {
    if (!raw_.output_killed && total_ > limits_.kill_output_bytes) {
      raw_.output_killed = true;
      StopNow(StopReason::kOutput, now);
    } else if (!stopping_ && now >= deadline_) {
      raw_.timed_out = true;
      StopNow(StopReason::kDeadline, now);
    } else if (stopping_ && now >= next_stop_) {
      control_.Stop(reason_, false);
      next_stop_ = now + kStopRepeat;
    }
  }

  void StopNow(StopReason why, Clock::time_point now) {
    bool first = !stopping_;
    stopping_ = true;
    reason_ = why;
    control_.Stop(why, first);
    next_stop_ = now + kStopRepeat;
  }

  Stream streams_[2];
  const ExecLimits& limits_;
  RunControl& control_;
  RawRun& raw_;
  int64_t total_ = 0;
  bool ended_ = false, stopping_ = false;
  StopReason reason_ = StopReason::kDeadline;
  Clock::time_point deadline_, next_stop_, drain_until_;
};

}  // namespace

void CaptureOutput(UniqueFd out, UniqueFd err, const ExecLimits& limits, Clock::time_point start,
                   RunControl& control, RawRun& raw) {
  Capture(std::move(out), std::move(err), limits, control, raw).Run(start);
  raw.wall_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

}  // namespace codesweep
