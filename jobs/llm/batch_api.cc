// BatchApiClient: OpenAI Files + Batches and Anthropic Message Batches over HttpEngine.
#include "jobs/llm/batch_api.h"

#include <cctype>
#include <nlohmann/json.hpp>

#include "base/hash.h"
#include "base/json_depth.h"
#include "base/log.h"
#include "jobs/llm/http.h"
#include "jobs/llm/wire_format.h"

namespace codesweep {
namespace {

using nlohmann::json;

json Parse(const std::string& text) {
  if (JsonTooDeep(text)) return json();
  return json::parse(text, nullptr, false);
}

int64_t Count(const json& obj, const char* key) {
  if (!obj.is_object()) return 0;
  auto it = obj.find(key);
  return it != obj.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

std::string Text(const json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

// Anthropic error type -> the HTTP status its documentation gives for it.
int AnthropicErrorStatus(const std::string& type) {
  if (type == "invalid_request_error") return 400;
  if (type == "authentication_error") return 401;
  if (type == "permission_error") return 403;
  if (type == "not_found_error") return 404;
  if (type == "request_too_large") return 413;
  if (type == "rate_limit_error") return 429;
  if (type == "overloaded_error") return 529;
  return 500;  // api_error and anything new
}

bool RefusedForSize(int status, const std::string& body) {
  if (status == 413) return true;
  for (const char* code :
       {"file_too_large", "too_many_requests", "token_limit_exceeded", "request_too_large"}) {
    if (body.find(code) != std::string::npos) return true;
  }
  return false;
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// "https://host:port/any/path" -> "https://host:port" (lower-cased scheme and host); "" when `url`
// is not an absolute http(s) URL.
std::string Origin(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "";
  std::string out = url.substr(0, url.find('/', scheme + 3));
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!out.starts_with("http://") && !out.starts_with("https://")) return "";
  return out.size() > scheme + 3 ? out : "";
}

}  // namespace

int HttpStatusOf(const Status& status) {
  const std::string& m = status.message();
  size_t at = m.find("HTTP ");
  if (at == std::string::npos) return 0;
  int n = 0;
  for (size_t i = at + 5; i < m.size() && i < at + 8 && isdigit(static_cast<unsigned char>(m[i]));
       ++i) {
    n = n * 10 + (m[i] - '0');
  }
  return n;
}

BatchApiClient::BatchApiClient(std::shared_ptr<HttpEngine> http, BatchTarget target)
    : http_(std::move(http)), t_(std::move(target)) {}

Result<std::string> BatchApiClient::Send(const std::string& method, const std::string& path,
                                         std::string body, const std::string& content_type) {
  HttpRequest req;
  req.method = method;
  // An absolute URL the provider gave (Anthropic's results_url), else a path under the base URL.
  req.url = path.starts_with("http://") || path.starts_with("https://") ? path : t_.base_url + path;
  req.body = std::move(body);
  req.timeout_ms = t_.timeout_ms;
  req.max_response_bytes = 1LL << 30;
  const bool openai = t_.format == WireFormat::kOpenAi;
  if (!content_type.empty()) req.headers.emplace_back("Content-Type", content_type);
  if (!openai) req.headers.emplace_back("anthropic-version", t_.anthropic_version);
  for (const auto& kv : t_.headers) req.headers.push_back(kv);
  if (!t_.api_key.empty()) {
    req.headers.emplace_back(openai ? "Authorization" : "x-api-key",
                             openai ? "Bearer " + t_.api_key : t_.api_key);
  }
  Result<HttpResponse> res = http_->Send(std::move(req));
  if (!res.ok()) return res.status().WithContext(method + " " + path);
  if (res->status >= 200 && res->status < 300) return std::move(res->body);
  const std::string why = Str("HTTP ", res->status, " from ", method, " ", path, ": ",
                              RedactSecrets(ExtractErrorMessage(res->body), t_.api_key));
  if (RefusedForSize(res->status, res->body)) return Status::ResourceExhausted(why);
  switch (ClassifyHttpStatus(res->status)) {
    case AttemptClass::kRateLimited:
      return Status::ResourceExhausted(why);
    case AttemptClass::kTransient:
    case AttemptClass::kMalformed:
      return Status::Unavailable(why);
    default:
      return Status(PermanentStatusCode(res->status), why);
  }
}

int64_t BatchApiClient::LineBytes(WireFormat format, const BatchLine& line) {
  // {"custom_id":"..","method":"POST","url":"/v1/chat/completions","body":...}\n
  return static_cast<int64_t>(line.body.size() + line.custom_id.size()) +
         (format == WireFormat::kOpenAi ? 70 : 30);
}

Result<BatchInfo> BatchApiClient::ParseInfo(const std::string& body) const {
  json j = Parse(body);
  if (!j.is_object() || !j.contains("id") || !j["id"].is_string()) {
    return Status::InvalidArgument("batch API: not a batch object: " + body.substr(0, 200));
  }
  BatchInfo info;
  info.id = j["id"].get<std::string>();
  if (t_.format == WireFormat::kOpenAi) {
    const std::string s = Text(j, "status");
    info.state = s == "completed"   ? "ended"
                 : s == "expired"   ? "expired"
                 : s == "cancelled" ? "cancelled"
                 : s == "failed"    ? "failed"
                                    : "in_progress";
    const json& c = j.value("request_counts", json::object());
    info.total = Count(c, "total");
    info.done = Count(c, "completed");
    info.failed = Count(c, "failed");
    info.output_file_id = Text(j, "output_file_id");
    info.error_file_id = Text(j, "error_file_id");
    const json& errors = j.value("errors", json());
    if (errors.is_object() && errors.contains("data") && errors["data"].is_array()) {
      for (const json& e : errors["data"]) {
        if (!info.error.empty()) info.error += "; ";
        info.error += Text(e, "code") + ": " + Text(e, "message");
      }
    }
  } else {
    const std::string s = Text(j, "processing_status");
    const json& c = j.value("request_counts", json::object());
    info.done = Count(c, "succeeded");
    info.failed = Count(c, "errored") + Count(c, "canceled") + Count(c, "expired");
    info.total = info.done + info.failed + Count(c, "processing");
    info.state = s != "ended"               ? "in_progress"
                 : Count(c, "expired") > 0  ? "expired"
                 : Count(c, "canceled") > 0 ? "cancelled"
                                            : "ended";
    info.results_url = Text(j, "results_url");
  }
  return info;
}

Result<BatchInfo> BatchApiClient::Create(std::vector<BatchLine> lines, const std::string& tag) {
  if (lines.empty()) return Status::InvalidArgument("batch API: no requests");
  // The request body is written line by line and each line's own body is freed once written, so
  // a batch is about once in memory while it is built, not once per step.
  int64_t bytes = 0;
  for (const BatchLine& l : lines) bytes += LineBytes(t_.format, l);
  if (t_.format == WireFormat::kAnthropic) {
    std::string body = "{\"requests\":[";
    body.reserve(static_cast<size_t>(bytes) + 32);
    for (size_t i = 0; i < lines.size(); ++i) {
      json params = Parse(lines[i].body);
      if (!params.is_object()) return Status::InvalidArgument("batch line is not a JSON object");
      if (i > 0) body += ',';
      body +=
          "{\"custom_id\":" + Dump(json(lines[i].custom_id)) + ",\"params\":" + Dump(params) + '}';
      std::string().swap(lines[i].body);
    }
    body += "]}";
    CS_ASSIGN_OR_RETURN(std::string answer,
                        Send("POST", "/v1/messages/batches", std::move(body), "application/json"));
    return ParseInfo(answer);
  }
  // The JSONL is written into the multipart body directly. Every line is JSON on one line (no raw
  // CR or LF inside), so "\r\n--boundary" never occurs in it, whatever the boundary is.
  const std::string boundary = "codesweep-" + Sha256Hex(tag).substr(0, 24);
  std::string form;
  form.reserve(static_cast<size_t>(bytes) + 512);
  form += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n";
  form += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + tag +
          ".jsonl\"\r\nContent-Type: application/jsonl\r\n\r\n";
  for (BatchLine& l : lines) {
    json params = Parse(l.body);
    if (!params.is_object()) return Status::InvalidArgument("batch line is not a JSON object");
    form += "{\"custom_id\":" + Dump(json(l.custom_id)) +
            ",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":" + Dump(params) +
            "}\n";
    std::string().swap(l.body);
  }
  form += "\r\n--" + boundary + "--\r\n";
  CS_ASSIGN_OR_RETURN(std::string file_body, Send("POST", "/files", std::move(form),
                                                  "multipart/form-data; boundary=" + boundary));
  json file = Parse(file_body);
  const std::string file_id = Text(file, "id");
  if (file_id.empty())
    return Status::InvalidArgument("batch API: upload answered without a file id");
  json create = {{"input_file_id", file_id},
                 {"endpoint", "/v1/chat/completions"},
                 {"completion_window", "24h"},
                 {"metadata", {{"codesweep_batch", tag}}}};
  CS_ASSIGN_OR_RETURN(std::string body, Send("POST", "/batches", Dump(create), "application/json"));
  CS_ASSIGN_OR_RETURN(BatchInfo info, ParseInfo(body));
  if (info.state == "failed" && RefusedForSize(0, info.error)) {
    return Status::ResourceExhausted("batch " + info.id + " refused: " + info.error);
  }
  return info;
}

Result<BatchInfo> BatchApiClient::Get(const std::string& id) {
  const bool openai = t_.format == WireFormat::kOpenAi;
  CS_ASSIGN_OR_RETURN(std::string body,
                      Send("GET", (openai ? "/batches/" : "/v1/messages/batches/") + id, "", ""));
  return ParseInfo(body);
}

Result<BatchInfo> BatchApiClient::Cancel(const std::string& id) {
  const bool openai = t_.format == WireFormat::kOpenAi;
  CS_ASSIGN_OR_RETURN(
      std::string body,
      Send("POST", (openai ? "/batches/" : "/v1/messages/batches/") + id + "/cancel", "",
           "application/json"));
  return ParseInfo(body);
}

Result<std::optional<BatchInfo>> BatchApiClient::FindByTag(const std::string& tag) {
  if (t_.format != WireFormat::kOpenAi) return std::optional<BatchInfo>();
  CS_ASSIGN_OR_RETURN(std::string body, Send("GET", "/batches?limit=100", "", ""));
  json j = Parse(body);
  if (!j.is_object() || !j.contains("data") || !j["data"].is_array()) {
    return Status::InvalidArgument("batch API: the batch list is not a list");
  }
  for (const json& b : j["data"]) {
    const json& meta = b.is_object() ? b.value("metadata", json()) : json();
    if (Text(meta, "codesweep_batch") != tag) continue;
    CS_ASSIGN_OR_RETURN(BatchInfo info, ParseInfo(Dump(b)));
    return std::optional<BatchInfo>(std::move(info));
  }
  return std::optional<BatchInfo>();
}

Status BatchApiClient::ParseOpenAiLines(const std::string& text,
                                        std::vector<BatchItem>* out) const {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json l = Parse(line);
    BatchItem item;
    item.custom_id = Text(l, "custom_id");
    if (item.custom_id.empty()) continue;  // not ours to match: skipped
    const json& resp = l.value("response", json());
    const json& err = l.value("error", json());
    if (resp.is_object()) {
      item.http_status = static_cast<int>(Count(resp, "status_code"));
      const json& body = resp.value("body", json());
      if (item.http_status >= 200 && item.http_status < 300) {
        item.ok = true;
        item.body = Dump(body);
      } else {
        item.error = ExtractErrorMessage(Dump(body));
      }
    } else if (err.is_object()) {
      const std::string code = Text(err, "code");
      item.error = code + ": " + Text(err, "message");
      item.unfinished = code == "batch_expired" || code == "batch_cancelled";
      item.http_status = item.unfinished ? 0 : 500;
    } else {
      item.http_status = 500;
      item.error = "batch output line without response or error";
    }
    out->push_back(std::move(item));
  }
  return Status::OK();
}

Status BatchApiClient::ParseAnthropicLines(const std::string& text,
                                           std::vector<BatchItem>* out) const {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json l = Parse(line);
    BatchItem item;
    item.custom_id = Text(l, "custom_id");
    if (item.custom_id.empty()) continue;
    const json& r = l.value("result", json::object());
    const std::string type = Text(r, "type");
    if (type == "succeeded") {
      item.ok = true;
      item.http_status = 200;
      item.body = Dump(r.value("message", json::object()));
    } else if (type == "canceled" || type == "expired") {
      item.unfinished = true;
      item.error = "request " + type;
    } else {
      const json& e = r.value("error", json::object());
      const json& inner = e.is_object() ? e.value("error", json::object()) : json::object();
      item.http_status = AnthropicErrorStatus(Text(inner, "type"));
      item.error = Text(inner, "type") + ": " + Text(inner, "message");
    }
    out->push_back(std::move(item));
  }
  return Status::OK();
}

Result<std::vector<BatchItem>> BatchApiClient::Results(const BatchInfo& info) {
  std::vector<BatchItem> items;
  if (t_.format == WireFormat::kAnthropic) {
    // The batch object names its results (as the API documents); a URL on another host than the
    // base URL is not sent the API key: the documented path is built instead.
    const std::string origin = Origin(info.results_url);
    const bool own = !origin.empty() && origin == Origin(t_.base_url);
    CS_ASSIGN_OR_RETURN(
        std::string body,
        Send("GET", own ? info.results_url : "/v1/messages/batches/" + info.id + "/results", "",
             ""));
    CS_RETURN_IF_ERROR(ParseAnthropicLines(body, &items));
    return items;
  }
  for (const std::string* file : {&info.output_file_id, &info.error_file_id}) {
    if (file->empty()) continue;
    CS_ASSIGN_OR_RETURN(std::string body, Send("GET", "/files/" + *file + "/content", "", ""));
    CS_RETURN_IF_ERROR(ParseOpenAiLines(body, &items));
  }
  return items;
}

}  // namespace codesweep
