// msgpack codec for wire messages (the only msgpack user). Frame = msgpack array
// [version, type, body...]. Decode never throws and never crashes on hostile bytes: malformed,
// truncated, oversized or wrong-version frames come back as a non-OK Status. Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "schema/messages.h"

namespace codesweep {

std::string Encode(const Message& msg);
Result<Message> Decode(std::string_view frame, size_t max_bytes = kMaxFrameBytes);
// Short name of a message type, for logs: "HELLO", "JOB", ...
std::string_view MessageName(const Message& msg);

}  // namespace codesweep
