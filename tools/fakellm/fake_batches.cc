// fakellm batch APIs (see fake_batches.h).
#include "tools/fakellm/fake_batches.h"

#include <algorithm>
#include <cmath>
#include <ctime>

#include "base/hash.h"
#include "base/json_depth.h"

namespace codesweep::fakellm {
namespace {

using nlohmann::json;

HttpOut Json(int status, const json& body) {
  HttpOut res;
  res.status = status;
  res.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return res;
}

HttpOut OpenAiError(int status, const std::string& code, const std::string& message) {
  return Json(status, {{"error",
                        {{"message", message},
                         {"type", "invalid_request_error"},
                         {"param", nullptr},
                         {"code", code.empty() ? json(nullptr) : json(code)}}}});
}

HttpOut AnthropicError(int status, const std::string& type, const std::string& message) {
  return Json(status, {{"type", "error"}, {"error", {{"type", type}, {"message", message}}}});
}

std::string Rfc3339(int64_t unix_ms) {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json TimeOrNull(int64_t unix_ms, bool anthropic) {
  if (unix_ms == 0) return nullptr;
  return anthropic ? json(Rfc3339(unix_ms)) : json(unix_ms / 1000);
}

bool ValidCustomId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// A stable pseudo-random number in [0, 1) for (seed, batch, custom_id).
double Unit(uint64_t seed, const std::string& batch, const std::string& custom_id) {
  return static_cast<double>(Sha256U64(std::to_string(seed) + "|" + batch + "|" + custom_id) >>
                             11) *
         0x1.0p-53;
}

std::vector<std::string> PathParts(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

}  // namespace

Status PatchBatchConfig(const json& patch, BatchConfig* config) {
  if (!patch.is_object()) return Status::InvalidArgument("batch config: a JSON object");
  BatchConfig c = *config;
  for (const auto& [key, v] : patch.items()) {
    auto num = [&](auto* field) -> Status {
      if (!v.is_number()) return Status::InvalidArgument("batch config: " + key + " is a number");
      *field = v.get<std::remove_pointer_t<decltype(field)>>();
      return Status::OK();
    };
    Status s;
    if (key == "delay_ms")
      s = num(&c.delay_ms);
    else if (key == "p_fail")
      s = num(&c.p_fail);
    else if (key == "expire_fraction")
      s = num(&c.expire_fraction);
    else if (key == "max_enqueued_tokens")
      s = num(&c.max_enqueued_tokens);
    else if (key == "max_requests")
      s = num(&c.max_requests);
    else if (key == "max_file_bytes")
      s = num(&c.max_file_bytes);
    else if (key == "seed")
      s = num(&c.seed);
    else if (key == "download_ms")
      s = num(&c.download_ms);
    else if (key == "endpoint_delay_ms")
      s = num(&c.endpoint_delay_ms);
    else if (key == "results_elsewhere")
      s = num(&c.results_elsewhere);
    else
      s = Status::InvalidArgument("batch config: unknown field " + key);
    if (!s.ok()) return s;
  }
  *config = c;
  return Status::OK();
}

json BatchConfigToJson(const BatchConfig& c) {
  return {{"delay_ms", c.delay_ms},
          {"p_fail", c.p_fail},
          {"expire_fraction", c.expire_fraction},
          {"max_enqueued_tokens", c.max_enqueued_tokens},
          {"max_requests", c.max_requests},
          {"max_file_bytes", c.max_file_bytes},
          {"download_ms", c.download_ms},
          {"seed", c.seed},
          {"endpoint_delay_ms", c.endpoint_delay_ms},
          {"results_elsewhere", c.results_elsewhere}};
}

Result<std::map<std::string, FormPart>> ParseMultipart(const std::string& content_type,
                                                       const std::string& body) {
  size_t b = content_type.find("boundary=");
  if (content_type.find("multipart/form-data") == std::string::npos || b == std::string::npos) {
    return Status::InvalidArgument("expected multipart/form-data with a boundary");
  }
  std::string boundary = content_type.substr(b + 9);
  if (size_t semi = boundary.find(';'); semi != std::string::npos) boundary.resize(semi);
  if (boundary.size() >= 2 && boundary.front() == '"' && boundary.back() == '"') {
    boundary = boundary.substr(1, boundary.size() - 2);
  }
  if (boundary.empty()) return Status::InvalidArgument("empty multipart boundary");
  const std::string delim = "--" + boundary;
  std::map<std::string, FormPart> parts;
  size_t pos = body.find(delim);
  if (pos == std::string::npos) return Status::InvalidArgument("no multipart boundary in the body");
  for (;;) {
    pos += delim.size();
    if (body.compare(pos, 2, "--") == 0) break;  // the closing delimiter
    if (body.compare(pos, 2, "\r\n") != 0) return Status::InvalidArgument("malformed multipart");
    pos += 2;
    size_t head_end = body.find("\r\n\r\n", pos);
    if (head_end == std::string::npos)
      return Status::InvalidArgument("multipart part without headers");
    std::string head = body.substr(pos, head_end - pos);
    size_t next = body.find("\r\n" + delim, head_end + 4);
    if (next == std::string::npos) return Status::InvalidArgument("multipart part not closed");
    auto param = [&](const std::string& key) -> std::string {
      size_t at = head.find(key + "=\"");
      if (at == std::string::npos) return "";
      size_t start = at + key.size() + 2;
      size_t end = head.find('"', start);
      return end == std::string::npos ? "" : head.substr(start, end - start);
    };
    std::string name = param("name");
    if (name.empty()) return Status::InvalidArgument("multipart part without a name");
    parts[name] = {param("filename"), body.substr(head_end + 4, next - head_end - 4)};
    pos = next + 2;
  }
  return parts;
}

BatchApi::BatchApi(AnswerFn answer, NowFn now) : answer_(std::move(answer)), now_(std::move(now)) {}

bool BatchApi::Handles(const HttpIn& req) {
  const std::string& p = req.path;
  return p == "/v1/files" || p.starts_with("/v1/files/") || p == "/v1/batches" ||
         p.starts_with("/v1/batches/") || p == "/v1/messages/batches" ||
         p.starts_with("/v1/messages/batches/") || p.starts_with("/fakellm/results/") ||
         p == "/admin/batches/config";
}

std::string BatchApi::NewId(const std::string& prefix) {
  std::string hex = Sha256Hex(std::to_string(next_id_++) + "|" + std::to_string(now_()));
  return prefix + hex.substr(0, 24);
}

HttpOut BatchApi::Download(std::string content_type, std::string body) {
  HttpOut res;
  res.content_type = std::move(content_type);
  res.body = std::move(body);
  res.spread_ms = config_.download_ms;
  ++downloads_;
  downloading_->fetch_add(1);
  res.finished = [n = downloading_] { n->fetch_sub(1); };
  return res;
}

HttpOut BatchApi::Route(const HttpIn& req) {
  if (req.path != "/admin/batches/config") {
    std::lock_guard<std::mutex> lock(mu_);
    ++http_requests_;
  }
  if (req.path == "/admin/batches/config") {
    std::lock_guard<std::mutex> lock(mu_);
    if (req.method == "POST") {
      Status s = PatchBatchConfig(json::parse(req.body, nullptr, false), &config_);
      if (!s.ok()) return Json(400, {{"error", s.message()}});
    }
    return Json(200, BatchConfigToJson(config_));
  }
  HttpOut out = req.path.starts_with("/v1/files")     ? OpenAiFiles(req)
                : req.path.starts_with("/v1/batches") ? OpenAiBatches(req)
                                                      : AnthropicBatches(req);
  std::lock_guard<std::mutex> lock(mu_);
  out.delay_ms = std::max(out.delay_ms, config_.endpoint_delay_ms);  // on a timer: no thread
  return out;
}

HttpOut BatchApi::OpenAiFiles(const HttpIn& req) {
  std::vector<std::string> parts = PathParts(req.path);  // v1 files [id] [content]
  std::lock_guard<std::mutex> lock(mu_);
  if (req.method == "POST" && parts.size() == 2) {
    Result<std::map<std::string, FormPart>> form =
        ParseMultipart(req.Header("Content-Type"), req.body);
    if (!form.ok()) return OpenAiError(400, "invalid_request", form.status().message());
    if (!form->count("file")) return OpenAiError(400, "missing_file", "a 'file' part is required");
    std::string purpose = form->count("purpose") ? (*form)["purpose"].content : "";
    if (purpose != "batch") {
      return OpenAiError(400, "invalid_purpose", "fakellm accepts purpose 'batch' only");
    }
    const FormPart& file = (*form)["file"];
    if (static_cast<int64_t>(file.content.size()) > config_.max_file_bytes) {
      return OpenAiError(400, "file_too_large",
                         "File is too large: " + std::to_string(file.content.size()) +
                             " bytes, the limit is " + std::to_string(config_.max_file_bytes));
    }
    File f{NewId("file-"), file.filename.empty() ? "upload.jsonl" : file.filename, purpose,
           file.content, now_() / 1000};
    json out = {{"id", f.id},
                {"object", "file"},
                {"bytes", f.content.size()},
                {"created_at", f.created_s},
                {"filename", f.filename},
                {"purpose", f.purpose},
                {"status", "processed"}};
    files_[f.id] = std::move(f);
    return Json(200, out);
  }
  if (parts.size() < 3)
    return OpenAiError(404, "not_found", "no route " + req.method + " " + req.path);
  auto it = files_.find(parts[2]);
  if (it == files_.end()) return OpenAiError(404, "not_found", "No such File object: " + parts[2]);
  const File& f = it->second;
  if (req.method == "GET" && parts.size() == 4 && parts[3] == "content") {
    return Download("application/octet-stream", f.content);
  }
  if (req.method == "GET" && parts.size() == 3) {
    return Json(200, {{"id", f.id},
                      {"object", "file"},
                      {"bytes", f.content.size()},
                      {"created_at", f.created_s},
                      {"filename", f.filename},
                      {"purpose", f.purpose}});
  }
  if (req.method == "DELETE" && parts.size() == 3) {
    std::string id = f.id;
    files_.erase(it);
    return Json(200, {{"id", id}, {"object", "file"}, {"deleted", true}});
  }
  return OpenAiError(404, "not_found", "no route " + req.method + " " + req.path);
}

int64_t BatchApi::OpenTokens() const {
  int64_t total = 0;
  for (const auto& [id, b] : batches_) {
    if (b.format == WireFormat::kOpenAi && b.state == "in_progress") total += b.estimated_tokens;
  }
  return total;
}

void BatchApi::Finish(Batch& b, bool cancelled) {
  const int64_t now = now_();
  // The share of requests answered: all when the batch ran its course; when it expired, all but
  // expire_fraction; when cancelled, in proportion to the time it ran.
  double answered_share = 1.0;
  if (cancelled) {
    answered_share = config_.delay_ms <= 0
                         ? 1.0
                         : std::min(1.0, static_cast<double>(b.cancel_ms - b.created_ms) /
                                             static_cast<double>(config_.delay_ms));
  } else if (config_.expire_fraction > 0) {
    answered_share = 1.0 - std::min(1.0, config_.expire_fraction);
  }
  const size_t answered =
      static_cast<size_t>(std::floor(answered_share * static_cast<double>(b.requests.size())));
  const bool anthropic = b.format == WireFormat::kAnthropic;
  for (size_t i = 0; i < b.requests.size(); ++i) {
    const auto& [custom_id, body] = b.requests[i];
    const std::string line_id = "batch_req_" + Sha256Hex(b.id + custom_id).substr(0, 24);
    if (i >= answered) {
      const std::string why = cancelled ? "cancelled" : "expired";
      if (cancelled)
        ++b.canceled;
      else
        ++b.expired;
      if (anthropic) {
        b.results.push_back(json{{"custom_id", custom_id},
                                 {"result", {{"type", cancelled ? "canceled" : "expired"}}}}
                                .dump());
      } else {
        b.errors.push_back(
            json{{"id", line_id},
                 {"custom_id", custom_id},
                 {"response", nullptr},
                 {"error",
                  {{"code", "batch_" + why},
                   {"message", cancelled ? "This request was cancelled."
                                         : "This request could not be executed "
                                           "before the completion window expired."}}}}
                .dump());
      }
      continue;
    }
    Result<Answered> a =
        Unit(config_.seed, b.id, custom_id) < config_.p_fail
            ? Result<Answered>(Status::Unavailable("fakellm injected batch failure"))
            : answer_(b.format, body);
    if (!a.ok()) {
      ++b.errored;
      if (anthropic) {
        b.results.push_back(
            json{{"custom_id", custom_id},
                 {"result",
                  {{"type", "errored"},
                   {"error",
                    {{"type", "error"},
                     {"error", {{"type", "api_error"}, {"message", a.status().message()}}}}}}}}
                .dump());
      } else {
        b.errors.push_back(json{
            {"id", line_id},
            {"custom_id", custom_id},
            {"response",
             {{"status_code", 500},
              {"request_id", "req_" + line_id.substr(10)},
              {"body",
               {{"error",
                 {{"message", a.status().message()},
                  {"type", "server_error"},
                  {"code", nullptr}}}}}}},
            {"error", nullptr}}.dump());
      }
      continue;
    }
    ++b.succeeded;
    json response = json::parse(a->body, nullptr, false);
    if (anthropic) {
      b.results.push_back(
          json{{"custom_id", custom_id}, {"result", {{"type", "succeeded"}, {"message", response}}}}
              .dump());
    } else {
      b.results.push_back(json{
          {"id", line_id},
          {"custom_id", custom_id},
          {"response",
           {{"status_code", 200}, {"request_id", "req_" + line_id.substr(10)}, {"body", response}}},
          {"error", nullptr}}.dump());
    }
  }
  b.state = cancelled ? "cancelled" : (b.expired > 0 ? "expired" : "completed");
  b.ended_ms = now;
  if (!anthropic) {
    auto file_of = [&](const std::vector<std::string>& lines, const char* suffix) {
      if (lines.empty()) return std::string();
      std::string content;
      for (const std::string& l : lines) content += l + "\n";
      File f{NewId("file-"), b.id + suffix, "batch_output", std::move(content), now / 1000};
      std::string id = f.id;
      files_[id] = std::move(f);
      return id;
    };
    b.output_file_id = file_of(b.results, "_output.jsonl");
    b.error_file_id = file_of(b.errors, "_error.jsonl");
  }
}

void BatchApi::Advance(Batch& b) {
  if (b.state == "cancelling") {
    Finish(b, true);
  } else if (b.state == "in_progress" && now_() - b.created_ms >= config_.delay_ms) {
    Finish(b, false);
  }
}

json BatchApi::OpenAiBatchJson(const Batch& b) const {
  const int64_t total = static_cast<int64_t>(b.requests.size());
  const bool ended = b.state != "in_progress" && b.state != "cancelling";
  return {{"id", b.id},
          {"object", "batch"},
          {"endpoint", b.endpoint},
          {"errors", b.failure.is_null() ? json(nullptr) : b.failure},
          {"input_file_id", b.input_file_id},
          {"completion_window", b.completion_window},
          {"status", b.state},
          {"output_file_id", b.output_file_id.empty() ? json(nullptr) : json(b.output_file_id)},
          {"error_file_id", b.error_file_id.empty() ? json(nullptr) : json(b.error_file_id)},
          {"created_at", b.created_ms / 1000},
          {"in_progress_at", b.created_ms / 1000},
          {"expires_at", b.created_ms / 1000 + 24 * 3600},
          {"finalizing_at", TimeOrNull(ended ? b.ended_ms : 0, false)},
          {"completed_at", TimeOrNull(b.state == "completed" ? b.ended_ms : 0, false)},
          {"failed_at", TimeOrNull(b.state == "failed" ? b.ended_ms : 0, false)},
          {"expired_at", TimeOrNull(b.state == "expired" ? b.ended_ms : 0, false)},
          {"cancelling_at", TimeOrNull(b.cancel_ms, false)},
          {"cancelled_at", TimeOrNull(b.state == "cancelled" ? b.ended_ms : 0, false)},
          {"request_counts",
           {{"total", total},
            {"completed", b.succeeded},
            {"failed", b.errored + b.expired + b.canceled}}},
          {"metadata", b.metadata.is_null() ? json(nullptr) : b.metadata}};
}

json BatchApi::AnthropicBatchJson(const Batch& b, const std::string& host) const {
  const bool ended = b.state != "in_progress" && b.state != "cancelling";
  const int64_t processing = ended ? 0 : static_cast<int64_t>(b.requests.size());
  return {{"id", b.id},
          {"type", "message_batch"},
          {"processing_status",
           ended ? "ended" : (b.state == "cancelling" ? "canceling" : "in_progress")},
          {"request_counts",
           {{"processing", processing},
            {"succeeded", b.succeeded},
            {"errored", b.errored},
            {"canceled", b.canceled},
            {"expired", b.expired}}},
          {"ended_at", TimeOrNull(ended ? b.ended_ms : 0, true)},
          {"created_at", Rfc3339(b.created_ms)},
          {"expires_at", Rfc3339(b.created_ms + 24 * 3600 * 1000LL)},
          {"archived_at", nullptr},
          {"cancel_initiated_at", TimeOrNull(b.cancel_ms, true)},
          {"results_url", ended ? json("http://" + host +
                                       (config_.results_elsewhere != 0
                                            ? "/fakellm/results/" + b.id
                                            : "/v1/messages/batches/" + b.id + "/results"))
                                : json(nullptr)}};
}

HttpOut BatchApi::OpenAiBatches(const HttpIn& req) {
  std::vector<std::string> parts = PathParts(req.path);  // v1 batches [id] [cancel]
  std::lock_guard<std::mutex> lock(mu_);
  if (req.method == "GET" && parts.size() == 2) {
    json data = json::array();
    for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
      Batch& b = batches_.at(*it);
      if (b.format != WireFormat::kOpenAi) continue;
      Advance(b);
      data.push_back(OpenAiBatchJson(b));
    }
    return Json(200, {{"object", "list"},
                      {"data", data},
                      {"first_id", data.empty() ? json(nullptr) : data.front()["id"]},
                      {"last_id", data.empty() ? json(nullptr) : data.back()["id"]},
                      {"has_more", false}});
  }
  if (req.method == "POST" && parts.size() == 2) {
    if (JsonTooDeep(req.body)) return OpenAiError(400, "invalid_json", "nested too deeply");
    json in = json::parse(req.body, nullptr, false);
    if (!in.is_object() || !in.contains("input_file_id") || !in["input_file_id"].is_string()) {
      return OpenAiError(400, "invalid_request", "input_file_id is required");
    }
    auto file = files_.find(in["input_file_id"].get<std::string>());
    if (file == files_.end()) {
      return OpenAiError(404, "not_found", "No such File object: " + in["input_file_id"].dump());
    }
    std::string endpoint = in.value("endpoint", "");
    if (endpoint != "/v1/chat/completions") {
      return OpenAiError(400, "invalid_endpoint", "fakellm batches /v1/chat/completions only");
    }
    if (in.value("completion_window", "") != "24h") {
      return OpenAiError(400, "invalid_completion_window", "completion_window must be 24h");
    }
    Batch b;
    b.format = WireFormat::kOpenAi;
    b.id = NewId("batch_");
    b.endpoint = endpoint;
    b.input_file_id = file->first;
    b.completion_window = "24h";
    b.metadata = in.contains("metadata") ? in["metadata"] : json(nullptr);
    b.created_ms = now_();
    std::map<std::string, bool> seen;
    const std::string& content = file->second.content;
    size_t pos = 0;
    int line = 0;
    json errors = json::array();
    while (pos < content.size() && errors.empty()) {
      size_t nl = content.find('\n', pos);
      if (nl == std::string::npos) nl = content.size();
      std::string text = content.substr(pos, nl - pos);
      pos = nl + 1;
      ++line;
      if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
      json l = JsonTooDeep(text) ? json() : json::parse(text, nullptr, false);
      auto fail = [&](const std::string& code, const std::string& message) {
        errors.push_back(
            {{"code", code}, {"message", message}, {"param", nullptr}, {"line", line}});
      };
      if (!l.is_object() || !l.contains("custom_id") || !l["custom_id"].is_string() ||
          !l.contains("body") || !l["body"].is_object()) {
        fail("invalid_json_line", "line " + std::to_string(line) + " is not a batch request");
        break;
      }
      if (l.value("url", "") != endpoint) {
        fail("mismatched_endpoint",
             "line " + std::to_string(line) + " has url " + l.value("url", ""));
        break;
      }
      std::string id = l["custom_id"].get<std::string>();
      if (seen.count(id)) {
        fail("duplicate_custom_id", "custom_id " + id + " appears twice");
        break;
      }
      seen[id] = true;
      std::string body = l["body"].dump();
      b.estimated_tokens += 1 + static_cast<int64_t>(body.size()) / 4;
      b.requests.emplace_back(std::move(id), std::move(body));
    }
    if (errors.empty() && static_cast<int64_t>(b.requests.size()) > config_.max_requests) {
      errors.push_back({{"code", "too_many_requests"},
                        {"message", "a batch holds at most " +
                                        std::to_string(config_.max_requests) + " requests"},
                        {"param", nullptr},
                        {"line", nullptr}});
    }
    if (errors.empty() && b.requests.empty()) {
      errors.push_back({{"code", "empty_file"},
                        {"message", "the input file has no requests"},
                        {"param", nullptr},
                        {"line", nullptr}});
    }
    if (errors.empty() && config_.max_enqueued_tokens > 0 &&
        OpenTokens() + b.estimated_tokens > config_.max_enqueued_tokens) {
      errors.push_back({{"code", "token_limit_exceeded"},
                        {"message", "Enqueued token limit reached. Limit: " +
                                        std::to_string(config_.max_enqueued_tokens) +
                                        " enqueued tokens. Please try again once some in_progress "
                                        "batches have been completed."},
                        {"param", nullptr},
                        {"line", nullptr}});
    }
    for (const auto& [id, body] : b.requests) ++submitted_[id];
    lines_received_ += static_cast<int64_t>(b.requests.size());
    if (!errors.empty()) {
      b.state = "failed";
      b.ended_ms = std::max<int64_t>(b.created_ms, 1000);
      b.failure = {{"object", "list"}, {"data", errors}};
      b.requests.clear();
      json out = OpenAiBatchJson(b);
      order_.push_back(b.id);
      batches_[b.id] = std::move(b);
      return Json(200, out);
    }
    json out = OpenAiBatchJson(b);
    order_.push_back(b.id);
    batches_[b.id] = std::move(b);
    return Json(200, out);
  }
  if (parts.size() < 3)
    return OpenAiError(404, "not_found", "no route " + req.method + " " + req.path);
  auto it = batches_.find(parts[2]);
  if (it == batches_.end() || it->second.format != WireFormat::kOpenAi) {
    return OpenAiError(404, "not_found", "No such Batch object: " + parts[2]);
  }
  Batch& b = it->second;
  if (req.method == "GET" && parts.size() == 3) {
    Advance(b);
    return Json(200, OpenAiBatchJson(b));
  }
  if (req.method == "POST" && parts.size() == 4 && parts[3] == "cancel") {
    Advance(b);
    if (b.state == "in_progress") {
      b.state = "cancelling";
      b.cancel_ms = now_();
    }
    return Json(200, OpenAiBatchJson(b));
  }
  return OpenAiError(404, "not_found", "no route " + req.method + " " + req.path);
}

HttpOut BatchApi::AnthropicBatches(const HttpIn& req) {
  std::vector<std::string> parts =
      PathParts(req.path);  // v1 messages batches [id] [results|cancel], or fakellm results id
  std::lock_guard<std::mutex> lock(mu_);
  if (parts.size() == 3 && parts[0] == "fakellm") {  // a results_url (results_elsewhere)
    parts = {"v1", "messages", "batches", parts[2], "results"};
  } else if (config_.results_elsewhere != 0 && parts.size() == 5 && parts[4] == "results") {
    return AnthropicError(404, "not_found_error", "read the results from the batch's results_url");
  }
  if (req.method == "GET" && parts.size() == 3) {
    json data = json::array();
    for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
      Batch& b = batches_.at(*it);
      if (b.format != WireFormat::kAnthropic) continue;
      Advance(b);
      data.push_back(AnthropicBatchJson(b, req.Header("Host")));
    }
    return Json(200, {{"data", data},
                      {"has_more", false},
                      {"first_id", data.empty() ? json(nullptr) : data.front()["id"]},
                      {"last_id", data.empty() ? json(nullptr) : data.back()["id"]}});
  }
  if (req.method == "POST" && parts.size() == 3) {
    if (JsonTooDeep(req.body))
      return AnthropicError(400, "invalid_request_error", "nested too deeply");
    json in = json::parse(req.body, nullptr, false);
    if (!in.is_object() || !in.contains("requests") || !in["requests"].is_array() ||
        in["requests"].empty()) {
      return AnthropicError(400, "invalid_request_error", "requests: a non-empty list is required");
    }
    if (static_cast<int64_t>(in["requests"].size()) > config_.max_requests) {
      return AnthropicError(
          413, "request_too_large",
          "a batch holds at most " + std::to_string(config_.max_requests) + " requests");
    }
    Batch b;
    b.format = WireFormat::kAnthropic;
    b.id = NewId("msgbatch_");
    b.created_ms = now_();
    std::map<std::string, bool> seen;
    for (const json& r : in["requests"]) {
      if (!r.is_object() || !r.contains("custom_id") || !r["custom_id"].is_string() ||
          !r.contains("params") || !r["params"].is_object()) {
        return AnthropicError(400, "invalid_request_error",
                              "each request needs custom_id and params");
      }
      std::string id = r["custom_id"].get<std::string>();
      if (!ValidCustomId(id)) {
        return AnthropicError(400, "invalid_request_error",
                              "custom_id must be 1-64 characters of [a-zA-Z0-9_-]: " + id);
      }
      if (seen.count(id)) {
        return AnthropicError(400, "invalid_request_error", "duplicate custom_id " + id);
      }
      seen[id] = true;
      b.requests.emplace_back(id, r["params"].dump());
    }
    for (const auto& [id, body] : b.requests) ++submitted_[id];
    lines_received_ += static_cast<int64_t>(b.requests.size());
    json out = AnthropicBatchJson(b, req.Header("Host"));
    order_.push_back(b.id);
    batches_[b.id] = std::move(b);
    return Json(200, out);
  }
  if (parts.size() < 4) {
    return AnthropicError(404, "not_found_error", "no route " + req.method + " " + req.path);
  }
  auto it = batches_.find(parts[3]);
  if (it == batches_.end() || it->second.format != WireFormat::kAnthropic) {
    return AnthropicError(404, "not_found_error", "no such message batch: " + parts[3]);
  }
  Batch& b = it->second;
  Advance(b);
  if (req.method == "GET" && parts.size() == 4)
    return Json(200, AnthropicBatchJson(b, req.Header("Host")));
  if (req.method == "GET" && parts.size() == 5 && parts[4] == "results") {
    if (b.state == "in_progress" || b.state == "cancelling") {
      return AnthropicError(404, "not_found_error", "results are available once the batch ends");
    }
    std::string body;
    for (const std::string& l : b.results) body += l + "\n";
    return Download("application/x-jsonl", std::move(body));
  }
  if (req.method == "POST" && parts.size() == 5 && parts[4] == "cancel") {
    if (b.state == "in_progress") {
      b.state = "cancelling";
      b.cancel_ms = now_();
    }
    return Json(200, AnthropicBatchJson(b, req.Header("Host")));
  }
  return AnthropicError(404, "not_found_error", "no route " + req.method + " " + req.path);
}

json BatchApi::StatsJson() {
  std::lock_guard<std::mutex> lock(mu_);
  json states = json::object();
  for (auto& [id, b] : batches_) states[b.state] = states.value(b.state, 0) + 1;
  int64_t repeated = 0;
  for (const auto& [id, n] : submitted_) repeated += n > 1 ? 1 : 0;
  return {{"batches", batches_.size()},
          {"states", states},
          {"lines_received", lines_received_},
          {"distinct_custom_ids", submitted_.size()},
          {"custom_ids_submitted_twice", repeated},
          {"http_requests", http_requests_},
          {"downloads", downloads_},
          {"downloads_in_flight", downloading_->load()}};
}

}  // namespace codesweep::fakellm
