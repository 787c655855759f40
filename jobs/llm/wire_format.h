// Translation between provider-neutral LlmRequest/LlmResponse and the two wire formats: OpenAI
// Chat Completions and Anthropic Messages. Both directions of both sides live here (the client
// builds requests and parses responses; fakellm parses requests and builds responses), so each
// format is described once. Pure functions; bytes from a peer never throw past them.
#pragma once

#include <string>

#include "jobs/llm/llm_client.h"
#include "jobs/llm/provider_options.h"

namespace codesweep {

// The request body for `model_name`, with the options' overrides and the capability rules applied
// (no system role: system text is prepended to the first user message; no temperature: sampling
// knobs left out). Fails (kInvalidArgument) when the request needs a capability the model lacks.
Result<std::string> BuildRequestBody(WireFormat format, const std::string& model_name,
                                     const LlmRequest& request, const ProviderOptions& options);
// A 2xx body -> response (content, tool calls, finish reason, usage). kInvalidArgument when the
// body is not the expected JSON (the retry layer treats that as malformed).
Result<LlmResponse> ParseResponseBody(WireFormat format, const std::string& body);
// The provider's error message from an error body (both formats), else the body's first bytes.
std::string ExtractErrorMessage(const std::string& body);

// Server side, for fakellm.
Result<LlmRequest> ParseRequestBody(WireFormat format, const std::string& body,
                                    std::string* model_name);
std::string BuildResponseBody(WireFormat format, const std::string& model_name,
                              const LlmResponse& response, const std::string& response_id);
// An error body in the format's shape, as the real API sends it for `http_status`. `code` is the
// OpenAI-style error code ("rate_limit_exceeded", "invalid_api_key", ...; "" for none). OpenAI:
// {"error": {message, type, param, code}} with type "requests" (429), "server_error" (5xx) or
// "invalid_request_error". Anthropic: {"type": "error", "error": {type, message}} with the type
// its documentation lists for the status (rate_limit_error, api_error, authentication_error...).
std::string BuildErrorBody(WireFormat format, int http_status, const std::string& code,
                           const std::string& message);

// Replaces every occurrence of `secret` (when 8+ bytes) and anything shaped like an API key
// ("sk-..." runs) with [REDACTED].
std::string RedactSecrets(std::string text, const std::string& secret);

}  // namespace codesweep
