// See coord_client.h.
#include "tools/codesweep/coord_client.h"

#include <chrono>
#include <memory>

#include "base/log.h"
#include "base/trace.h"
#include "schema/codec.h"
#include "transport/wire.h"

namespace codesweep {

void AddCoordClientFlags(CLI::App& sub, CoordClientOptions* options) {
  sub.add_option("--server-key", options->server_key_file,
                 "The coordinator's CURVE public key file (its NAME.pub)");
  sub.add_option("--curve-secret", options->curve_secret,
                 "A CURVE secret key file whose public key the coordinator authorizes (as for a "
                 "worker)");
  sub.add_option("--timeout-ms", options->timeout_ms, "How long to wait for the coordinator")
      ->capture_default_str();
}

Result<SubmittedMsg> AskCoordinator(const CoordClientOptions& o, const Message& msg) {
  if (o.server_key_file.empty() != o.curve_secret.empty()) {
    return Status::InvalidArgument("--server-key and --curve-secret go together");
  }
  if (o.timeout_ms <= 0) return Status::InvalidArgument("--timeout-ms must be > 0");
  ChannelOptions co;
  co.linger_ms = 0;
  if (!o.server_key_file.empty()) {
    CS_ASSIGN_OR_RETURN(co.curve_server_key, ReadCurveKeyFile(o.server_key_file));
    CS_ASSIGN_OR_RETURN(co.curve_secret, ReadCurveKeyFile(o.curve_secret));
    CS_ASSIGN_OR_RETURN(co.curve_public, CurvePublicFromSecret(co.curve_secret));
  }
  WireContext ctx;
  CS_ASSIGN_OR_RETURN(std::unique_ptr<Channel> ch,
                      Channel::Connect(ctx, Channel::Kind::kDealer, o.connect, co));
  TraceEvent("client_send");
  CS_RETURN_IF_ERROR(ch->Send(Encode(msg)));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(o.timeout_ms);
  Envelope env;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    CS_ASSIGN_OR_RETURN(bool got, ch->RecvWait(&env, left));
    if (!got) continue;
    Result<Message> answer = Decode(env.frame);
    if (!answer.ok()) {
      return Status::Unavailable(
          Str("bad answer from ", o.connect, ": ", answer.status().message()));
    }
    if (auto* done = std::get_if<SubmittedMsg>(&*answer)) {
      if (!done->error.empty()) {
        return Status::FailedPrecondition(Str("the coordinator refused it: ", done->error));
      }
      return *done;
    }
    if (std::holds_alternative<ResetMsg>(*answer)) {
      return Status::Unavailable(Str(o.connect,
                                     " answered RESET: it is a coordinator from before "
                                     "`codesweep submit` (upgrade it)"));
    }
    // Heartbeats and anything else meant for workers: keep waiting.
  }
  return Status::Unavailable(Str(
      "no answer from ", o.connect, " within ", o.timeout_ms,
      " ms: either no coordinator listens there, or it refused this connection (with CURVE: "
      "--server-key must be its public key and the public key of --curve-secret must be in its "
      "--authorized-keys; it logs \"refused unknown worker key\"; a coordinator with CURVE also "
      "ignores a client without keys)"));
}

}  // namespace codesweep
