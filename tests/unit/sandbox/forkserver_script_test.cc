// The fork server's script sweeps its pid namespace after every run (kill(-1)), which is safe only
// inside the sandbox's own pid namespace. Run outside one (by hand, from a copy), it must refuse to
// serve at once. The test never sends a request, so even a server that did not refuse sweeps
// nothing: it would wait for one, and the test would fail on the deadline.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "jobs/sandbox/forkserver_py.h"

namespace codesweep {
namespace {

TEST(ForkServerScript, RefusesToServeOutsideItsOwnPidNamespace) {
  char dir[] = "/tmp/cs-forkserver-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string script = std::string(dir) + "/server.py";
  std::ofstream(script) << kForkServerPy;
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  int err[2];
  ASSERT_EQ(pipe(err), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(sv[1], 3);
    dup2(err[1], 2);
    execlp("python3", "python3", "-I", "-S", script.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(sv[1]);
  close(err[1]);
  int status = 0;
  pid_t done = 0;
  for (int i = 0; i < 1000 && done == 0; ++i) {  // up to 20 s on a loaded machine
    done = waitpid(pid, &status, WNOHANG);
    if (done == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (done == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  std::string stderr_text;
  char buf[512];
  ssize_t n;
  while ((n = read(err[0], buf, sizeof(buf))) > 0) stderr_text.append(buf, static_cast<size_t>(n));
  close(err[0]);
  close(sv[0]);
  std::remove(script.c_str());
  rmdir(dir);
  ASSERT_NE(done, 0) << "the server waited for a request outside its own pid namespace";
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 70) << stderr_text;
  EXPECT_NE(stderr_text.find("pid namespace"), std::string::npos) << stderr_text;
}

}  // namespace
}  // namespace codesweep
