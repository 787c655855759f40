// `codesweep view --db FILE [--bind HOST:PORT]`: the live web viewer of a database (docs/view.md).
// Read-only beside a running coordinator. Loopback by default; another address needs the access
// token printed at start. Runs until SIGINT or SIGTERM.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "tools/codesweep/cli_common.h"
#include "tools/codesweep/commands.h"
#include "view/server.h"

namespace codesweep {

namespace {

struct ViewFlags {
  std::string db;
  std::string bind = "127.0.0.1:8765";
};

Result<view::ViewOptions> ParseBind(const ViewFlags& f) {
  view::ViewOptions o;
  o.db_path = f.db;
  const size_t colon = f.bind.rfind(':');
  if (colon == std::string::npos || colon + 1 == f.bind.size() || f.bind.size() - colon > 6) {
    return Status::InvalidArgument("--bind wants HOST:PORT, e.g. 127.0.0.1:8765, not '" + f.bind +
                                   "'");
  }
  o.host = f.bind.substr(0, colon);
  if (o.host.size() > 2 && o.host.front() == '[' && o.host.back() == ']') {
    o.host = o.host.substr(1, o.host.size() - 2);
  }
  o.port = 0;
  for (char c : f.bind.substr(colon + 1)) {
    if (c < '0' || c > '9') return Status::InvalidArgument("--bind: bad port in '" + f.bind + "'");
    o.port = o.port * 10 + (c - '0');
  }
  if (o.port > 65535) return Status::InvalidArgument("--bind: bad port in '" + f.bind + "'");
  if (o.host == "localhost") o.host = "127.0.0.1";
  return o;
}

std::string NewToken() {
  std::random_device random;  // the kernel's generator
  std::string out;
  for (int i = 0; i < 8; ++i) {
    char part[9];
    std::snprintf(part, sizeof(part), "%08x", static_cast<unsigned>(random()));
    out += part;
  }
  return out;
}

int RunView(const ViewFlags& f) {
  Result<view::ViewOptions> options = ParseBind(f);
  if (!options.ok()) return PrintError("view", options.status(), 2);
  if (!view::IsLoopback(options->host)) options->token = NewToken();
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  Result<std::unique_ptr<view::ViewServer>> server = view::ViewServer::Create(*options);
  if (!server.ok()) return PrintError("view", server.status());
  Result<int> port = (*server)->Bind();
  if (!port.ok()) return PrintError("view", port.status());
  const std::string host =
      options->host.find(':') != std::string::npos ? "[" + options->host + "]" : options->host;
  std::string url = "http://" + host + ":" + std::to_string(*port) + "/";
  if (!options->token.empty()) {
    url += "?token=" + options->token;
    std::fprintf(stderr,
                 "codesweep view: %s is not a loopback address, so anyone who can reach it could "
                 "read the database; every request needs the token in this address\n",
                 options->host.c_str());
  }
  std::printf("codesweep view: serving %s read-only at %s\n", f.db.c_str(), url.c_str());
  std::fflush(stdout);
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    (*server)->Stop();
  });
  (*server)->Serve();
  pthread_kill(waiter.native_handle(), SIGTERM);  // wakes sigwait if no signal came
  waiter.join();
  return 0;
}

}  // namespace

CommandAction SetupViewCommand(CLI::App& sub) {
  auto flags = std::make_shared<ViewFlags>();
  sub.add_option("--db", flags->db, "Database file")->required();
  sub.add_option("--bind", flags->bind,
                 "HOST:PORT to serve on (default 127.0.0.1:8765; port 0 = any free port)");
  return [flags] { return RunView(*flags); };
}

}  // namespace codesweep
