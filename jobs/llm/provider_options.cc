// Parsing of provider options, the capability table and the price table.
#include "jobs/llm/provider_options.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "base/log.h"

namespace codesweep {
namespace {

using nlohmann::json;

Status TypeError(const std::string& key, const char* want) {
  return Status::InvalidArgument("option '" + key + "' must be " + want);
}

Status GetInt(const json& v, const std::string& key, int64_t* out) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0)
    return TypeError(key, "a non-negative integer");
  *out = v.get<int64_t>();
  return Status::OK();
}

Status GetNumber(const json& v, const std::string& key, double* out) {
  if (!v.is_number()) return TypeError(key, "a number");
  *out = v.get<double>();
  return Status::OK();
}

Status GetString(const json& v, const std::string& key, std::string* out) {
  if (!v.is_string()) return TypeError(key, "a string");
  *out = v.get<std::string>();
  return Status::OK();
}

Status GetBool(const json& v, const std::string& key, bool* out) {
  if (!v.is_boolean()) return TypeError(key, "true or false");
  *out = v.get<bool>();
  return Status::OK();
}

Result<Price> ParsePrice(const json& v, const std::string& key) {
  if (!v.is_object()) return TypeError(key, "an object {input, cached_input, output}");
  Price p;
  bool cached_set = false;
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (it.key() == "batch_input" || it.key() == "batch_output") {
      double d = 0;
      CS_RETURN_IF_ERROR(GetNumber(*it, key + "." + it.key(), &d));
      (it.key() == "batch_input" ? p.batch_input : p.batch_output) = d;
      continue;
    }
    double* field = it.key() == "input"          ? &p.input
                    : it.key() == "cached_input" ? &p.cached_input
                    : it.key() == "output"       ? &p.output
                                                 : nullptr;
    if (field == nullptr) return Status::InvalidArgument("unknown price field '" + it.key() + "'");
    CS_RETURN_IF_ERROR(GetNumber(*it, key + "." + it.key(), field));
    cached_set |= it.key() == "cached_input";
  }
  if (!cached_set) p.cached_input = p.input;
  return p;
}

Status ParseTimeouts(const json& v, ProviderOptions* o) {
  if (!v.is_object()) return TypeError("timeouts", "an object");
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string key = "timeouts." + it.key();
    if (it.key() == "connect_ms")
      CS_RETURN_IF_ERROR(GetInt(*it, key, &o->connect_timeout_ms));
    else if (it.key() == "total_ms")
      CS_RETURN_IF_ERROR(GetInt(*it, key, &o->timeout_ms));
    else if (it.key() == "deadline_ms")
      CS_RETURN_IF_ERROR(GetInt(*it, key, &o->retry.deadline_ms));
    else
      return Status::InvalidArgument("unknown option '" + key + "'");
  }
  return Status::OK();
}

Status ParseRetry(const json& v, RetryPolicy* r) {
  if (!v.is_object()) return TypeError("retry", "an object");
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string key = "retry." + it.key();
    int64_t n = 0;
    if (it.key() == "jitter") {
      CS_RETURN_IF_ERROR(GetNumber(*it, key, &r->jitter));
      continue;
    }
    CS_RETURN_IF_ERROR(GetInt(*it, key, &n));
    if (it.key() == "max_attempts")
      r->max_attempts = static_cast<int>(std::max<int64_t>(1, n));
    else if (it.key() == "max_rate_limited")
      r->max_rate_limited = static_cast<int>(n);
    else if (it.key() == "base_backoff_ms")
      r->base_backoff_ms = n;
    else if (it.key() == "max_backoff_ms")
      r->max_backoff_ms = n;
    else if (it.key() == "deadline_ms")
      r->deadline_ms = n;
    else
      return Status::InvalidArgument("unknown option '" + key + "'");
  }
  return Status::OK();
}

Status ParseHeaders(const json& v, HttpHeaders* headers) {
  if (!v.is_object()) return TypeError("headers", "an object of strings");
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!it->is_string()) return TypeError("headers." + it.key(), "a string");
    headers->emplace_back(it.key(), it->get<std::string>());
  }
  return Status::OK();
}

Status ParseCapabilities(const json& v, LlmCapabilities* c) {
  if (!v.is_object()) return TypeError("capabilities", "an object");
  for (auto it = v.begin(); it != v.end(); ++it) {
    bool* field = it.key() == "tools"            ? &c->tools
                  : it.key() == "system_message" ? &c->system_message
                  : it.key() == "temperature"    ? &c->temperature
                                                 : nullptr;
    if (field == nullptr) return Status::InvalidArgument("unknown capability '" + it.key() + "'");
    CS_RETURN_IF_ERROR(GetBool(*it, "capabilities." + it.key(), field));
  }
  return Status::OK();
}

Status ParseStop(const json& v, ProviderOptions* o) {
  std::vector<std::string> stop;
  if (v.is_string()) {
    stop.push_back(v.get<std::string>());
  } else if (v.is_array()) {
    for (const json& s : v) {
      if (!s.is_string()) return TypeError("stop", "a string or an array of strings");
      stop.push_back(s.get<std::string>());
    }
  } else {
    return TypeError("stop", "a string or an array of strings");
  }
  o->stop = std::move(stop);
  return Status::OK();
}

Status ParseGenOption(const std::string& key, const json& v, ProviderOptions* o) {
  if (key == "temperature" || key == "top_p") {
    double d = 0;
    CS_RETURN_IF_ERROR(GetNumber(v, key, &d));
    (key == "temperature" ? o->temperature : o->top_p) = d;
  } else if (key == "max_tokens") {
    int64_t n = 0;
    CS_RETURN_IF_ERROR(GetInt(v, key, &n));
    o->max_tokens = static_cast<int>(n);
  } else if (key == "seed") {
    if (!v.is_number_integer()) return TypeError(key, "an integer");
    o->seed = v.get<int64_t>();
  } else {
    return ParseStop(v, o);
  }
  return Status::OK();
}

Status ParseBatchOption(const std::string& key, const json& v, BatchOptions* b) {
  if (key == "batch") return GetBool(v, key, &b->enabled);
  if (key == "batch_max_requests" || key == "batch_max_bytes" ||
      key == "batch_max_enqueued_tokens") {
    int64_t n = 0;
    CS_RETURN_IF_ERROR(GetInt(v, key, &n));
    if (n < 1) return Status::InvalidArgument(key + " must be >= 1");
    (key == "batch_max_requests" ? b->max_requests
     : key == "batch_max_bytes"  ? b->max_bytes
                                 : b->max_enqueued_tokens) = n;
    return Status::OK();
  }
  if (key == "batch_flush_s" || key == "batch_poll_s") {
    double d = 0;
    CS_RETURN_IF_ERROR(GetNumber(v, key, &d));
    if (!(d >= 0 && d <= 7 * 24 * 3600)) return Status::InvalidArgument(key + " must be 0..604800");
    (key == "batch_flush_s" ? b->flush_s : b->poll_s) = d;
    return Status::OK();
  }
  return Status::InvalidArgument("unknown option '" + key + "'");
}

Status ParseOption(const std::string& key, const json& v, ProviderOptions* o) {
  static const std::set<std::string> kGen = {"temperature", "top_p", "max_tokens", "seed", "stop"};
  if (kGen.contains(key)) return ParseGenOption(key, v, o);
  if (key == "base_url") return GetString(v, key, &o->base_url);
  if (key == "api_key_env") return GetString(v, key, &o->api_key_env);
  if (key == "anthropic_version") return GetString(v, key, &o->anthropic_version);
  if (key == "key_alias") return v.is_string() ? Status::OK() : TypeError(key, "a string");
  if (key == "headers") return ParseHeaders(v, &o->headers);
  if (key == "timeouts") return ParseTimeouts(v, o);
  if (key == "connect_timeout_ms") return GetInt(v, key, &o->connect_timeout_ms);
  if (key == "timeout_ms") return GetInt(v, key, &o->timeout_ms);
  if (key == "retry") return ParseRetry(v, &o->retry);
  if (key == "max_attempts") return ParseRetry(json{{"max_attempts", v}}, &o->retry);
  if (key == "cell_context_header") return GetBool(v, key, &o->cell_context_header);
  if (key.starts_with("batch")) return ParseBatchOption(key, v, &o->batch);
  if (key == "capabilities") return ParseCapabilities(v, &o->capabilities);
  if (key == "price") {
    CS_ASSIGN_OR_RETURN(o->price, ParsePrice(v, key));
    return Status::OK();
  }
  if (key == "extra_body") {
    if (!v.is_object()) return TypeError(key, "an object");
    o->extra_body_json = v.dump();
    return Status::OK();
  }
  return Status::InvalidArgument("unknown option '" + key + "'");
}

bool StartsWith(const std::string& s, std::string_view prefix) { return s.starts_with(prefix); }

}  // namespace

LlmCapabilities DefaultCapabilities(const std::string& provider, const std::string& name) {
  LlmCapabilities c;
  if (provider != "openai") return c;
  // o1-preview / o1-mini: no system role, no sampling knobs, no tools.
  if (StartsWith(name, "o1-preview") || StartsWith(name, "o1-mini")) {
    c.system_message = false;
    c.temperature = false;
    c.tools = false;
    return c;
  }
  // Later reasoning models: tools, but fixed sampling; system prompts merged into the user
  // message to behave the same across the family.
  if (StartsWith(name, "o1") || StartsWith(name, "o3") || StartsWith(name, "o4")) {
    c.system_message = false;
    c.temperature = false;
  }
  return c;
}

bool UsesMaxCompletionTokens(const std::string& name) {
  return StartsWith(name, "o1") || StartsWith(name, "o3") || StartsWith(name, "o4");
}

Result<ProviderOptions> ParseProviderOptions(const ModelSpec& model) {
  ProviderOptions o;
  if (model.provider == "openai") {
    o.format = WireFormat::kOpenAi;
    o.base_url = "https://api.openai.com/v1";
    o.api_key_env = "OPENAI_API_KEY";
  } else if (model.provider == "anthropic") {
    o.format = WireFormat::kAnthropic;
    o.base_url = "https://api.anthropic.com";
    o.api_key_env = "ANTHROPIC_API_KEY";
  } else {
    return Status::InvalidArgument("not an HTTP provider: '" + model.provider + "'");
  }
  if (model.name.empty()) return Status::InvalidArgument("model id '" + model.id + "' has no name");
  o.capabilities = DefaultCapabilities(model.provider, model.name);
  json options =
      json::parse(model.options_json.empty() ? "{}" : model.options_json, nullptr, false);
  if (options.is_discarded() || !options.is_object()) {
    return Status::InvalidArgument("options of " + model.id + " are not a JSON object");
  }
  for (auto it = options.begin(); it != options.end(); ++it) {
    Status s = ParseOption(it.key(), *it, &o);
    if (!s.ok()) return s.WithContext(model.id);
  }
  while (!o.base_url.empty() && o.base_url.back() == '/') o.base_url.pop_back();
  if (!o.base_url.starts_with("http://") && !o.base_url.starts_with("https://")) {
    return Status::InvalidArgument(model.id + ": base_url must start with http:// or https://");
  }
  return o;
}

Result<PriceTable> PriceTable::FromJson(const std::string& text) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status::InvalidArgument("price table is not a JSON object");
  }
  PriceTable table;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (it.key().starts_with("_")) continue;  // comments, "_as_of", ...
    Result<Price> p = ParsePrice(*it, it.key());
    if (!p.ok()) return p.status().WithContext("price table");
    table.Set(it.key(), *p);
  }
  return table;
}

Result<PriceTable> PriceTable::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot open price table " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  Result<PriceTable> t = FromJson(ss.str());
  if (!t.ok()) return t.status().WithContext(path);
  return t;
}

std::optional<Price> PriceTable::Find(const std::string& model_id) const {
  std::optional<Price> best;
  size_t best_len = 0;
  for (const auto& [id, price] : prices_) {
    if (model_id.starts_with(id) && (id.size() >= best_len)) {
      best = price;
      best_len = id.size();
    }
  }
  return best;
}

double CostUsd(const Price& price, const LlmUsage& usage) {
  const int64_t cached = std::min(usage.cached_input_tokens, usage.input_tokens);
  const double uncached = static_cast<double>(usage.input_tokens - cached);
  return (uncached * price.input + static_cast<double>(cached) * price.cached_input +
          static_cast<double>(usage.output_tokens) * price.output) /
         1e6;
}

double BatchCostUsd(const Price& price, const LlmUsage& usage) {
  const double in = price.batch_input.value_or(price.input / 2);
  const double out = price.batch_output.value_or(price.output / 2);
  return (static_cast<double>(usage.input_tokens) * in +
          static_cast<double>(usage.output_tokens) * out) /
         1e6;
}

}  // namespace codesweep
