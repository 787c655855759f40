// Sweep file parsing and validation (toml++ is used only by the readers of sweep files and task
// files). Every error names file:line and the dotted key it is about.
#include "coordinator/sweep/sweep_file.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "coordinator/sweep/declared_tasks.h"
#include "coordinator/sweep/method_templates.h"
#include "coordinator/sweep/method_templates_parse.h"
#include "jobs/llm/providers.h"
#include "jobs/llm/sim/sim.h"
#include "jobs/methods/method.h"
#include "jobs/sandbox/sandbox.h"
#include "jobs/tasks/declared/toml_json.h"

namespace codesweep {

namespace {

using json = nlohmann::json;

// Deepest nesting a sweep file may have: tables, arrays and dotted-key parts counted together.
// toml++ recurses per level (a 100,000-deep header crashes it), so TomlDepthScan checks the text
// before toml++ sees it. Real sweep files stay under 6.
constexpr int kMaxTomlDepth = 64;

// Measures TOML nesting without parsing: the depth of a value is the depth of its table plus the
// parts of its dotted key; each inline array or table adds one. Strings and comments are skipped.
// Returns the 1-based line where the depth first passes `max_depth`, or 0.
class TomlDepthScan {
 public:
  explicit TomlDepthScan(std::string_view text) : t_(text) {}
  int FirstLineDeeperThan(int max_depth) {
    max_ = max_depth;
    for (i_ = 0; i_ < t_.size() && bad_line_ == 0; ++i_) Step(t_[i_]);
    return bad_line_;
  }

 private:
  enum class Mode { kLineStart, kHeader, kKey, kValue };
  struct Open {
    char bracket;
    int depth;  // of the container itself
  };

  void Note(int depth) {
    if (depth > max_ && bad_line_ == 0) bad_line_ = line_;
  }
  void Step(char c) {
    if (c == '\n') ++line_;
    if (c == '"' || c == '\'') return SkipString(c);
    if (c == '#') return SkipComment();
    switch (mode_) {
      case Mode::kLineStart:
        return LineStart(c);
      case Mode::kHeader:
        return Header(c);
      case Mode::kKey:
        return Key(c);
      case Mode::kValue:
        return Value(c);
    }
  }
  void LineStart(char c) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') return;
    parts_ = 1;
    if (c == '[') {
      mode_ = Mode::kHeader;
      if (i_ + 1 < t_.size() && t_[i_ + 1] == '[') ++parts_;  // [[x]]: an array, then a table
      return;
    }
    mode_ = Mode::kKey;
    Key(c);
  }
  void Header(char c) {
    if (c == '.') {
      ++parts_;
    } else if (c == ']') {
      table_depth_ = parts_;
      Note(table_depth_);
      mode_ = Mode::kValue;  // the rest of the line: nothing nests there
    } else if (c == '\n') {
      mode_ = Mode::kLineStart;
    }
  }
  void Key(char c) {
    if (c == '.') {
      ++parts_;
    } else if (c == '=') {
      value_depth_ = (open_.empty() ? table_depth_ : open_.back().depth) + parts_;
      Note(value_depth_);
      mode_ = Mode::kValue;
    } else if (c == '\n' && open_.empty()) {
      mode_ = Mode::kLineStart;
    } else if (c == '}') {
      Value(c);
    }
  }
  void Value(char c) {
    if (c == '[' || c == '{') {
      int depth = open_.empty() || open_.back().bracket == '{' ? value_depth_ : value_depth_ + 1;
      open_.push_back({c, depth});
      Note(depth + 1);
      value_depth_ = depth;
      if (c == '{') {
        mode_ = Mode::kKey;
        parts_ = 1;
      }
    } else if ((c == ']' || c == '}') && !open_.empty()) {
      open_.pop_back();
      if (!open_.empty()) value_depth_ = open_.back().depth;
    } else if (c == ',' && !open_.empty() && open_.back().bracket == '{') {
      mode_ = Mode::kKey;
      parts_ = 1;
    } else if (c == '\n' && open_.empty()) {
      mode_ = Mode::kLineStart;
    }
  }
  // Basic ("...", """...""") and literal ('...', '''...''') strings; i_ is on the first quote.
  void SkipString(char q) {
    bool triple = t_.substr(i_, 3) == std::string(3, q);
    i_ += triple ? 3 : 1;
    for (; i_ < t_.size(); ++i_) {
      char c = t_[i_];
      if (c == '\n') ++line_;
      if (q == '"' && c == '\\') {
        if (i_ + 1 < t_.size() && t_[i_ + 1] == '\n') ++line_;
        ++i_;
      } else if (c == q && (!triple || t_.substr(i_, 3) == std::string(3, q))) {
        if (triple) i_ += 2;
        return;
      } else if (c == '\n' && !triple) {
        mode_ = Mode::kLineStart;  // unterminated: toml++ reports it
        return;
      }
    }
  }
  void SkipComment() {
    while (i_ + 1 < t_.size() && t_[i_ + 1] != '\n') ++i_;
  }

  std::string_view t_;
  size_t i_ = 0;
  int line_ = 1;
  int max_ = 0;
  int bad_line_ = 0;
  Mode mode_ = Mode::kLineStart;
  int parts_ = 1;
  int table_depth_ = 0;
  int value_depth_ = 0;
  std::vector<Open> open_;
};

// Collects the location prefix for messages: "file:line: key: ".
class Ctx {
 public:
  explicit Ctx(std::string path) : path_(std::move(path)) {}
  Status Error(const toml::node* node, std::string_view key, std::string_view what) const {
    std::string m = path_;
    if (node != nullptr && node->source().begin.line > 0) {
      m += ":" + std::to_string(node->source().begin.line);
    }
    m += ": ";
    if (!key.empty()) {
      m += key;
      m += ": ";
    }
    m += what;
    return Status::InvalidArgument(std::move(m));
  }

 private:
  std::string path_;
};

std::string Join(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  std::string out(a);
  out += '.';
  out += b;
  return out;
}

// Quotes keys that are not bare TOML keys (e.g. model ids with ':').
std::string KeyName(std::string_view k) {
  for (char c : k) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) {
      return "\"" + std::string(k) + "\"";
    }
  }
  return std::string(k);
}

Status CheckKeys(const Ctx& ctx, const toml::table& t, std::string_view where,
                 const std::set<std::string_view>& allowed) {
  for (const auto& [k, v] : t) {
    if (!allowed.count(k.str())) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return ctx.Error(&v, Join(where, KeyName(k.str())),
                       "unknown key (expected one of: " + list + ")");
    }
  }
  return Status::OK();
}

Result<int64_t> GetInt(const Ctx& ctx, const toml::node& n, const std::string& key, int64_t lo,
                       int64_t hi) {
  auto v = n.value<int64_t>();
  if (!n.is_integer() || !v) return ctx.Error(&n, key, "expected an integer");
  if (*v < lo || *v > hi) {
    return ctx.Error(&n, key,
                     "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  }
  return *v;
}

Result<double> GetNumber(const Ctx& ctx, const toml::node& n, const std::string& key, double lo,
                         double hi) {
  if (!n.is_number()) return ctx.Error(&n, key, "expected a number");
  double v = *n.value<double>();
  if (!std::isfinite(v) || v < lo || v > hi) {
    std::ostringstream os;
    os << "must be between " << lo << " and " << hi;
    return ctx.Error(&n, key, os.str());
  }
  return v;
}

Result<std::string> GetString(const Ctx& ctx, const toml::node& n, const std::string& key) {
  if (!n.is_string()) return ctx.Error(&n, key, "expected a string");
  return std::string(*n.value<std::string>());
}

// A list of strings is written as an array of strings, always: a bare string or a number in its
// place is a type error (so `methods = "x"` and `complexity = [2]` do not pass silently).
Result<std::vector<std::string>> GetStringList(const Ctx& ctx, const toml::node& n,
                                               const std::string& key) {
  std::vector<std::string> out;
  if (!n.is_array()) {
    std::string hint;
    if (n.is_string() && n.value<std::string>()->size() <= 64) {
      hint = " (write [\"" + *n.value<std::string>() + "\"])";
    }
    return ctx.Error(&n, key, "expected an array of strings" + hint);
  }
  for (const auto& e : *n.as_array()) {
    if (!e.is_string()) {
      std::string hint = e.is_integer() ? " (write levels in quotes, e.g. [\"" +
                                              std::to_string(*e.value<int64_t>()) + "\"])"
                                        : "";
      return ctx.Error(&e, key, "expected an array of strings" + hint);
    }
    out.push_back(*e.value<std::string>());
  }
  return out;
}

Status ParseTasks(const Ctx& ctx, const toml::node& node, const TaskRegistry& registry,
                  SweepConfig& out) {
  const toml::array* arr = node.as_array();
  if (arr == nullptr || arr->empty()) {
    return ctx.Error(&node, "tasks", "expected a non-empty array of tables ([[tasks]])");
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < arr->size(); ++i) {
    const toml::node& e = (*arr)[i];
    std::string where = "tasks[" + std::to_string(i) + "]";
    const toml::table* t = e.as_table();
    if (t == nullptr) return ctx.Error(&e, where, "expected a table with name = \"...\"");
    if (json entry = TomlToJson(*t, kMaxTomlDepth); IsDeclaredTaskEntry(entry)) {  // docs/tasks.md
      size_t before = out.tasks.size();
      int64_t line = e.source().begin.line;
      std::string at = out.path + (line > 0 ? ":" + std::to_string(line) : "") + ": " + where;
      CS_RETURN_IF_ERROR(ParseDeclaredTaskEntry(entry, at, out.path, registry, out.tasks));
      for (size_t k = before; k < out.tasks.size(); ++k) {
        if (!seen.insert(out.tasks[k].name).second) {
          return ctx.Error(&e, where + ".name",
                           "task \"" + out.tasks[k].name + "\" is listed twice");
        }
      }
      continue;
    }
    CS_RETURN_IF_ERROR(
        CheckKeys(ctx, *t, where, {"name", "complexity", "samples", "first_sample"}));
    TaskConfig tc;
    const toml::node* name = t->get("name");
    if (name == nullptr) return ctx.Error(&e, where + ".name", "missing");
    CS_ASSIGN_OR_RETURN(tc.name, GetString(ctx, *name, where + ".name"));
    if (!registry.Contains(tc.name)) {
      std::string known;
      for (const std::string& tk : registry.names()) known += (known.empty() ? "" : ", ") + tk;
      return ctx.Error(name, where + ".name",
                       "unknown task \"" + tc.name + "\" (known: " + known + ")");
    }
    // Built here on first use: a process loads only the tasks its sweeps name.
    Result<const Task*> loaded = registry.Get(tc.name);
    if (!loaded.ok()) {
      return ctx.Error(name, where + ".name",
                       "task \"" + tc.name + "\" cannot be loaded: " + loaded.status().message());
    }
    const Task* task = *loaded;
    if (const toml::node* c = t->get("complexity")) {
      CS_ASSIGN_OR_RETURN(tc.complexities, GetStringList(ctx, *c, where + ".complexity"));
      if (tc.complexities.empty()) return ctx.Error(c, where + ".complexity", "must not be empty");
      for (const auto& level : tc.complexities) {
        Status s = task->ValidateComplexity(level);
        if (!s.ok()) return ctx.Error(c, where + ".complexity", s.message());
      }
    } else {
      tc.complexities = task->complexity_levels();
      if (tc.complexities.empty()) tc.complexities.push_back("");
    }
    if (const toml::node* s = t->get("samples")) {
      CS_ASSIGN_OR_RETURN(tc.samples, GetInt(ctx, *s, where + ".samples", 1, 10'000'000));
    }
    if (const toml::node* s = t->get("first_sample")) {
      CS_ASSIGN_OR_RETURN(tc.first_sample, GetInt(ctx, *s, where + ".first_sample", 0, 1LL << 40));
    }
    if (!seen.insert(tc.name).second) {
      return ctx.Error(&e, where + ".name", "task \"" + tc.name + "\" is listed twice");
    }
    out.tasks.push_back(std::move(tc));
  }
  return Status::OK();
}

// Splits a model table into generation settings, limits and provider options.
Status ParseModel(const Ctx& ctx, std::string_view id, const toml::node& node, const SweepConfig& c,
                  ModelConfig& m) {
  std::string where = "models." + KeyName(id);
  size_t colon = id.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == id.size()) {
    return ctx.Error(&node, where,
                     "a model id is \"provider:name\" (e.g. \"sim:default\", \"openai:gpt-4o\")");
  }
  m.spec.id = std::string(id);
  m.spec.provider = std::string(id.substr(0, colon));
  m.spec.name = std::string(id.substr(colon + 1));
  if (m.spec.provider != "sim" && m.spec.provider != "openai" && m.spec.provider != "anthropic") {
    return ctx.Error(
        &node, where,
        "unknown provider \"" + m.spec.provider + "\" (known: sim, openai, anthropic)");
  }
  const toml::table* t = node.as_table();
  if (t == nullptr) return ctx.Error(&node, where, "expected a table");
  json options = json::object();
  for (const auto& [k, v] : *t) {
    std::string key(k.str());
    std::string kw = Join(where, KeyName(key));
    if (key == "temperature") {
      CS_ASSIGN_OR_RETURN(m.gen.temperature, GetNumber(ctx, v, kw, 0, 2));
    } else if (key == "top_p") {
      CS_ASSIGN_OR_RETURN(m.gen.top_p, GetNumber(ctx, v, kw, 0, 1));
    } else if (key == "max_tokens") {
      CS_ASSIGN_OR_RETURN(int64_t mt, GetInt(ctx, v, kw, 1, 1'000'000));
      m.gen.max_tokens = static_cast<int>(mt);
    } else if (key == "seed") {
      CS_ASSIGN_OR_RETURN(int64_t sd, GetInt(ctx, v, kw, INT64_MIN, INT64_MAX));
      m.gen.seed = sd;
    } else if (key == "stop") {
      CS_ASSIGN_OR_RETURN(m.gen.stop, GetStringList(ctx, v, kw));
    } else if (key == "rpm") {
      CS_ASSIGN_OR_RETURN(m.limits.requests_per_minute, GetNumber(ctx, v, kw, 0, 1e9));
    } else if (key == "tpm") {
      CS_ASSIGN_OR_RETURN(m.limits.tokens_per_minute, GetNumber(ctx, v, kw, 0, 1e12));
    } else if (key == "input_tpm") {
      CS_ASSIGN_OR_RETURN(m.limits.input_tokens_per_minute, GetNumber(ctx, v, kw, 0, 1e12));
    } else if (key == "output_tpm") {
      CS_ASSIGN_OR_RETURN(m.limits.output_tokens_per_minute, GetNumber(ctx, v, kw, 0, 1e12));
    } else if (key == "max_concurrency") {
      CS_ASSIGN_OR_RETURN(int64_t mc, GetInt(ctx, v, kw, 0, 1'000'000));
      m.limits.max_concurrency = static_cast<int>(mc);
    } else if (key == "reserve") {
      CS_ASSIGN_OR_RETURN(m.limits.reserve_fraction, GetNumber(ctx, v, kw, 0, 0.99));
    } else if (key == "max_cost_usd") {
      CS_ASSIGN_OR_RETURN(m.max_cost_usd, GetNumber(ctx, v, kw, 0, 1e9));
    } else if (key == "skip_methods") {
      CS_ASSIGN_OR_RETURN(m.skip_methods, GetStringList(ctx, v, kw));
      for (const auto& name : m.skip_methods) {
        if (!SweepMethodInfo(c, name)) {
          return ctx.Error(&v, kw, "unknown method \"" + name + "\"");
        }
      }
    } else {
      options[key] = TomlToJson(v, kMaxTomlDepth);
    }
  }
  if (m.spec.provider != "sim") {
    if (options.contains("api_key_env") && options["api_key_env"].is_string()) {
      m.key_alias = options["api_key_env"].get<std::string>();
    } else {
      m.key_alias = m.spec.provider == "openai" ? "OPENAI_API_KEY" : "ANTHROPIC_API_KEY";
    }
  }
  m.spec.options_json = options.dump();
  Status s = m.spec.provider == "sim" ? SimOptions::FromJson(m.spec.options_json).status()
                                      : ValidateProviderModel(m.spec);
  if (!s.ok()) return ctx.Error(&node, where, s.message());
  return Status::OK();
}

Status ParseModels(const Ctx& ctx, const toml::node& node, SweepConfig& out) {
  const toml::table* t = node.as_table();
  if (t == nullptr || t->empty()) {
    return ctx.Error(&node, "models", "expected at least one [models.\"provider:name\"] table");
  }
  for (const auto& [k, v] : *t) {
    ModelConfig m;
    CS_RETURN_IF_ERROR(ParseModel(ctx, k.str(), v, out, m));
    out.models.push_back(std::move(m));
  }
  return Status::OK();
}

Status ParseMethods(const Ctx& ctx, const toml::node& node, SweepConfig& out) {
  CS_ASSIGN_OR_RETURN(out.methods, GetStringList(ctx, node, "methods"));
  if (out.methods.empty()) return ctx.Error(&node, "methods", "must not be empty");
  std::set<std::string> seen;
  for (const auto& m : out.methods) {
    if (!SweepMethodInfo(out, m)) {
      std::string known;
      for (const auto& info : AllMethods()) known += (known.empty() ? "" : ", ") + info.name;
      for (const auto& t : out.method_templates) known += ", " + t.name;
      return ctx.Error(&node, "methods", "unknown method \"" + m + "\" (known: " + known + ")");
    }
    if (!seen.insert(m).second) return ctx.Error(&node, "methods", "\"" + m + "\" is listed twice");
  }
  return Status::OK();
}

Status ParseTurns(const Ctx& ctx, const toml::node& node, SweepConfig& out) {
  out.turns.clear();
  std::set<int64_t> seen;
  auto add = [&](const toml::node& e) -> Status {
    CS_ASSIGN_OR_RETURN(int64_t v, GetInt(ctx, e, "turns", 1, 50));
    if (!seen.insert(v).second) return ctx.Error(&e, "turns", "value listed twice");
    out.turns.push_back(static_cast<int>(v));
    return Status::OK();
  };
  if (const toml::array* a = node.as_array()) {
    if (a->empty()) return ctx.Error(&node, "turns", "must not be empty");
    for (const auto& e : *a) CS_RETURN_IF_ERROR(add(e));
    return Status::OK();
  }
  return add(node);
}

// Models that cannot run a method (tool use or a system role missing) are refused at validate
// time, unless the model lists the method in skip_methods.
Status CheckMethodModels(const Ctx& ctx, const toml::table& root, const SweepConfig& c) {
  for (const auto& m : c.models) {
    if (m.spec.provider == "sim") continue;
    LlmCapabilities caps = ProviderCapabilities(m.spec);
    for (const auto& name : c.methods) {
      std::optional<MethodInfo> info = SweepMethodInfo(c, name);
      if (!info || !m.Runs(name)) continue;
      Status s = CheckMethodSupported(*info, caps);
      if (!s.ok()) {
        return ctx.Error(root.get("methods"), "methods",
                         "model \"" + m.spec.id + "\" cannot run method \"" + name + "\": " +
                             s.message() + " (add it to the model's skip_methods to leave it out)");
      }
    }
  }
  return Status::OK();
}

// [sandbox]: each limit an integer in its documented range (FindExecLimitRange).
Status ParseSandbox(const Ctx& ctx, const toml::node& node, SweepConfig& c) {
  const toml::table* t = node.as_table();
  if (t == nullptr) return ctx.Error(&node, "sandbox", "expected a table");
  json limits = json::object();
  for (const auto& [k, v] : *t) {
    std::string key = Join("sandbox", KeyName(k.str()));
    const ExecLimitRange* range = FindExecLimitRange(k.str());
    if (range == nullptr) {
      return ctx.Error(&v, key,
                       "unknown key (expected one of: wall_ms, cpu_ms, memory_bytes, "
                       "max_processes, max_file_bytes, tmp_bytes, keep_output_bytes, "
                       "kill_output_bytes)");
    }
    CS_ASSIGN_OR_RETURN(limits[std::string(k.str())], GetInt(ctx, v, key, range->min, range->max));
  }
  c.sandbox_json = limits.dump();
  Status s = ParseExecLimits(c.sandbox_json).status();
  if (!s.ok()) return ctx.Error(&node, "sandbox", s.message());
  return Status::OK();
}

Status ParseRoot(const Ctx& ctx, const toml::table& root, const TaskRegistry& registry,
                 SweepConfig& c) {
  CS_RETURN_IF_ERROR(CheckKeys(
      ctx, root, "",
      {"name", "description", "seed", "samples", "max_attempts", "epochs", "methods", "turns",
       "tasks", "models", "sandbox", "max_cost_usd", "max_tokens_total", "method_templates"}));
  for (std::string_view required : {"name", "tasks", "models", "methods"}) {
    if (!root.contains(required)) {
      return ctx.Error(nullptr, required,
                       "missing (a sweep needs name, tasks, models and methods)");
    }
  }
  CS_ASSIGN_OR_RETURN(c.name, GetString(ctx, *root.get("name"), "name"));
  if (c.name.empty() || c.name.size() > 128 ||
      c.name.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
          std::string::npos) {
    return ctx.Error(root.get("name"), "name", "use 1-128 letters, digits, '_', '-' or '.'");
  }
  if (const toml::node* n = root.get("description")) {
    CS_RETURN_IF_ERROR(GetString(ctx, *n, "description").status());
  }
  if (const toml::node* n = root.get("seed")) {
    CS_ASSIGN_OR_RETURN(int64_t seed, GetInt(ctx, *n, "seed", 0, INT64_MAX));
    c.seed = static_cast<uint64_t>(seed);
  }
  if (const toml::node* n = root.get("samples")) {
    CS_ASSIGN_OR_RETURN(c.samples, GetInt(ctx, *n, "samples", 1, 10'000'000));
  }
  if (const toml::node* n = root.get("max_attempts")) {
    CS_ASSIGN_OR_RETURN(int64_t a, GetInt(ctx, *n, "max_attempts", 1, 100));
    c.max_attempts = static_cast<int>(a);
  }
  if (const toml::node* n = root.get("max_cost_usd")) {
    CS_ASSIGN_OR_RETURN(c.max_cost_usd, GetNumber(ctx, *n, "max_cost_usd", 0, 1e9));
  }
  if (const toml::node* n = root.get("max_tokens_total")) {
    CS_ASSIGN_OR_RETURN(c.max_tokens_total,
                        GetInt(ctx, *n, "max_tokens_total", 0, 1'000'000'000'000'000));
  }
  if (const toml::node* n = root.get("epochs")) {
    CS_ASSIGN_OR_RETURN(int64_t k, GetInt(ctx, *n, "epochs", 1, 1000));
    c.epochs = static_cast<int>(k);
  }
  if (const toml::node* n = root.get("method_templates")) {
    CS_ASSIGN_OR_RETURN(c.method_templates, ParseMethodTemplates(*n, c.path));
  }
  CS_RETURN_IF_ERROR(ParseMethods(ctx, *root.get("methods"), c));
  if (const toml::node* n = root.get("turns")) CS_RETURN_IF_ERROR(ParseTurns(ctx, *n, c));
  CS_RETURN_IF_ERROR(ParseTasks(ctx, *root.get("tasks"), registry, c));
  CS_RETURN_IF_ERROR(ParseModels(ctx, *root.get("models"), c));
  CS_RETURN_IF_ERROR(FinishDeclaredTasks(c));
  if (const toml::node* n = root.get("sandbox")) CS_RETURN_IF_ERROR(ParseSandbox(ctx, *n, c));
  return CheckMethodModels(ctx, root, c);
}

// The text of line `line` (1-based), without its newline.
std::string_view LineOf(std::string_view text, int64_t line) {
  size_t begin = 0;
  for (int64_t l = 1; l < line && begin != std::string_view::npos; ++l) {
    begin = text.find('\n', begin);
    if (begin != std::string_view::npos) ++begin;
  }
  if (begin == std::string_view::npos || begin > text.size()) return {};
  size_t end = text.find('\n', begin);
  return text.substr(begin, end == std::string_view::npos ? text.size() - begin : end - begin);
}

std::string_view Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// toml++ garbles the names in its "cannot redefine existing table 'models."sisim:x"'" messages;
// this puts back the key as the line writes it (the header between brackets, or the text left
// of '=').
std::string ParseErrorText(std::string_view text, const toml::parse_error& e) {
  std::string what(e.description());
  size_t open = what.find('\'');
  size_t close = what.rfind('\'');
  if (what.find("cannot redefine existing") == std::string::npos || open == close) return what;
  std::string_view line = Trim(LineOf(text, e.source().begin.line));
  std::string_view name;
  if (!line.empty() && line.front() == '[') {
    size_t b = line.find_first_not_of('[');
    size_t end = line.find(']', b);
    if (b != std::string_view::npos && end != std::string_view::npos)
      name = line.substr(b, end - b);
  } else if (size_t eq = line.find('='); eq != std::string_view::npos) {
    name = line.substr(0, eq);
  }
  name = Trim(name);
  if (name.empty()) return what;
  return what.substr(0, open + 1) + std::string(name) + what.substr(close);
}

}  // namespace

bool ModelConfig::Runs(const std::string& method) const {
  return std::find(skip_methods.begin(), skip_methods.end(), method) == skip_methods.end();
}

Result<SweepConfig> ParseSweep(std::string_view text, const std::string& path,
                               const TaskRegistry& tasks) {
  Ctx ctx(path);
  if (int line = TomlDepthScan(text).FirstLineDeeperThan(kMaxTomlDepth); line > 0) {
    return Status::InvalidArgument(path + ":" + std::to_string(line) + ": nested deeper than " +
                                   std::to_string(kMaxTomlDepth) +
                                   " levels (tables, arrays and dotted-key parts together)");
  }
  SweepConfig c;
  c.path = path;
  c.text = std::string(text);
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(path + ":" + std::to_string(e.source().begin.line) + ":" +
                                   std::to_string(e.source().begin.column) + ": " +
                                   ParseErrorText(text, e));
  } catch (const std::exception& e) {
    return Status::InvalidArgument(path + ": " + e.what());
  }
  CS_RETURN_IF_ERROR(ParseRoot(ctx, root, tasks, c));
  return c;
}

Result<SweepConfig> LoadSweepFile(const std::string& path, const TaskRegistry& tasks) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open sweep file");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (ss.str().size() > (16u << 20)) return Status::InvalidArgument(path + ": larger than 16 MiB");
  return ParseSweep(ss.str(), path, tasks);
}

std::string SweepConfigJson(const SweepConfig& c) {
  json j;
  j["name"] = c.name;
  j["seed"] = c.seed;
  j["samples"] = c.samples;
  j["max_attempts"] = c.max_attempts;
  j["epochs"] = c.epochs;
  j["methods"] = c.methods;
  j["turns"] = c.turns;
  j["sandbox"] = json::parse(c.sandbox_json);
  for (const MethodTemplate& t : c.method_templates) {
    j["method_templates"][t.name] = json::parse(MethodTemplateJson(t));
  }
  if (c.max_cost_usd) j["max_cost_usd"] = *c.max_cost_usd;
  if (c.max_tokens_total) j["max_tokens_total"] = *c.max_tokens_total;
  for (const auto& t : c.tasks) {
    j["tasks"].push_back(
        {{"name", t.name},
         {"complexity", t.complexities},
         {"samples", t.all_samples ? json("all") : json(t.samples > 0 ? t.samples : c.samples)},
         {"first_sample", t.first_sample}});
    if (t.declared) j["tasks"].back()["declared"] = DeclaredTaskJson(*t.declared);
  }
  for (const auto& m : c.models) {
    json g = {{"temperature", m.gen.temperature},
              {"top_p", m.gen.top_p},
              {"max_tokens", m.gen.max_tokens},
              {"stop", m.gen.stop}};
    if (m.gen.seed) g["seed"] = *m.gen.seed;
    json l = {{"rpm", m.limits.requests_per_minute},
              {"tpm", m.limits.tokens_per_minute},
              {"input_tpm", m.limits.input_tokens_per_minute},
              {"output_tpm", m.limits.output_tokens_per_minute},
              {"max_concurrency", m.limits.max_concurrency},
              {"reserve", m.limits.reserve_fraction}};
    j["models"].push_back({{"id", m.spec.id},
                           {"options", json::parse(m.spec.options_json)},
                           {"gen", g},
                           {"limits", l},
                           {"skip_methods", m.skip_methods},
                           {"max_cost_usd", m.max_cost_usd ? json(*m.max_cost_usd) : json()},
                           {"key_alias", m.key_alias}});
  }
  return j.dump();
}

}  // namespace codesweep
