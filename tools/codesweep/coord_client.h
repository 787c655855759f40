// A short-lived client of a running coordinator (`codesweep submit`, `codesweep retry
// --connect`): connects like a worker (DEALER, the same CURVE keys), sends one message and waits
// for the SUBMITTED answer.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "base/status.h"
#include "schema/messages.h"

namespace codesweep {

struct CoordClientOptions {
  std::string connect;          // --connect tcp://HOST:PORT
  std::string server_key_file;  // --server-key: the coordinator's public key file
  std::string curve_secret;     // --curve-secret: a key pair whose .pub the coordinator authorizes
  int64_t timeout_ms = 10'000;  // --timeout-ms: how long to wait for the answer
};

// Adds --server-key, --curve-secret and --timeout-ms (not --connect: the commands differ there).
void AddCoordClientFlags(CLI::App& sub, CoordClientOptions* options);

// Sends `msg` and returns the coordinator's answer. Unavailable when none comes within the
// timeout (nothing listening, or a CURVE key the coordinator refused: it answers neither);
// FailedPrecondition with the coordinator's reason when it refused the request.
Result<SubmittedMsg> AskCoordinator(const CoordClientOptions& options, const Message& msg);

}  // namespace codesweep
