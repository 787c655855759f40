// Fork-server mode (placeholder until the server lands): refuses to start.
#include <memory>

#include "jobs/sandbox/profile.h"
#include "jobs/sandbox/sandbox.h"

namespace codesweep {

Result<std::unique_ptr<Executor>> MakeForkServer(std::shared_ptr<const SandboxProfile>,
                                                 const SandboxOptions&, Logger&) {
  return Status::FailedPrecondition("sandbox: forkserver mode is not available yet");
}

}  // namespace codesweep
