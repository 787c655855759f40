// Declared methods: parsing the sweep file's tables and the lookups over a SweepConfig.
#include "coordinator/sweep/method_templates.h"

#include <set>

#include "coordinator/sweep/method_templates_parse.h"
#include "coordinator/sweep/toml_file.h"

namespace codesweep {

namespace {

Status Error(const std::string& path, const toml::node* node, const std::string& key,
             const std::string& what) {
  std::string m = path;
  if (node != nullptr && node->source().begin.line > 0) {
    m += ":" + std::to_string(node->source().begin.line);
  }
  return Status::InvalidArgument(m + ": " + key + ": " + what);
}

Result<std::string> Text(const std::string& path, const toml::node& n, const std::string& key) {
  if (!n.is_string()) return Error(path, &n, key, "expected a string");
  return std::string(*n.value<std::string>());
}

Result<MethodTemplate> ParseOne(const std::string& path, std::string_view name,
                                const toml::node& node) {
  const std::string where = "method_templates." + std::string(name);
  const toml::table* t = node.as_table();
  if (t == nullptr) return Error(path, &node, where, "expected a table");
  MethodTemplate m;
  m.name = std::string(name);
  bool has_prompt = false;
  for (const auto& [k, v] : *t) {
    const std::string key(k.str());
    const std::string kw = where + "." + key;
    if (key == "system" || key == "prompt" || key == "feedback" || key == "feedback_without_code" ||
        key == "description") {
      CS_ASSIGN_OR_RETURN(std::string text, Text(path, v, kw));
      if (key == "system") m.system = std::move(text);
      if (key == "prompt") m.prompt = std::move(text), has_prompt = true;
      if (key == "feedback") m.feedback = std::move(text);
      if (key == "feedback_without_code") m.feedback_without_code = std::move(text);
      if (key == "description") m.description = std::move(text);
    } else if (key == "code") {
      CS_ASSIGN_OR_RETURN(std::string mode, Text(path, v, kw));
      std::optional<CodeMode> parsed = ParseCodeMode(mode);
      if (!parsed) {
        return Error(path, &v, kw,
                     "unknown code mode \"" + mode + "\" (expected execute, never or tool)");
      }
      m.code = *parsed;
    } else if (key == "turns") {
      std::optional<int64_t> n = v.value<int64_t>();
      if (!v.is_integer() || !n || *n < 1 || *n > kMaxTemplateTurns) {
        return Error(path, &v, kw,
                     "expected an integer between 1 and " + std::to_string(kMaxTemplateTurns));
      }
      m.turns = static_cast<int>(*n);
    } else {
      return Error(path, &v, kw,
                   "unknown key (expected one of: code, description, feedback, "
                   "feedback_without_code, prompt, system, turns)");
    }
  }
  if (!has_prompt) return Error(path, &node, where + ".prompt", "missing");
  Status s = CheckMethodTemplate(m);
  if (!s.ok()) {
    // The message starts with the key it is about ("prompt: unknown placeholder ...").
    const std::string& msg = s.message();
    const size_t colon = msg.find(": ");
    const std::string key = msg.substr(0, colon);
    const toml::node* at = key == "name" ? &node : t->get(key);
    return Error(path, at != nullptr ? at : &node, key == "name" ? where : where + "." + key,
                 msg.substr(colon + 2));
  }
  return m;
}

// [method_templates.NAME] file = "methods/x.toml": the template's keys are the top level of that
// file (a path relative to the file naming it). Errors name the sweep file's line and the
// included file's.
Result<MethodTemplate> ParseIncluded(const std::string& path, std::string_view name,
                                     const toml::table& entry) {
  const std::string where = "method_templates." + std::string(name) + ".file";
  const toml::node* file = entry.get("file");
  if (entry.size() != 1) {
    return Error(path, &entry, where,
                 "no other key beside file (the file holds the whole template)");
  }
  if (!file->is_string() || file->value<std::string>()->empty()) {
    return Error(path, file, where, "a path to a method template file (TOML)");
  }
  std::string included = ResolveIncluded(DirOf(path), *file->value<std::string>());
  auto fail = [&](const Status& s) { return Error(path, file, where, s.message()); };
  Result<toml::table> root = ReadIncludedToml(included, "method template file");
  if (!root.ok()) return fail(root.status());
  if (root->contains("file")) {
    return fail(
        Status::InvalidArgument(included + ": a method template file does not include others"));
  }
  Result<MethodTemplate> m = ParseOne(included, name, *root);
  if (!m.ok()) return fail(m.status());
  return m;
}

}  // namespace

Result<std::vector<MethodTemplate>> ParseMethodTemplates(const toml::node& node,
                                                         const std::string& path) {
  const toml::table* t = node.as_table();
  if (t == nullptr) {
    return Error(path, &node, "method_templates",
                 "expected tables ([method_templates.NAME] with prompt = \"...\")");
  }
  std::vector<MethodTemplate> out;
  for (const auto& [k, v] : *t) {
    const toml::table* entry = v.as_table();
    if (entry != nullptr && entry->contains("file")) {
      CS_ASSIGN_OR_RETURN(MethodTemplate m, ParseIncluded(path, k.str(), *entry));
      out.push_back(std::move(m));
      continue;
    }
    CS_ASSIGN_OR_RETURN(MethodTemplate m, ParseOne(path, k.str(), v));
    out.push_back(std::move(m));
  }
  return out;
}

const MethodTemplate* FindMethodTemplate(const SweepConfig& config, std::string_view name) {
  for (const MethodTemplate& t : config.method_templates) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::optional<MethodInfo> SweepMethodInfo(const SweepConfig& config, std::string_view name) {
  if (const MethodInfo* info = FindMethod(name)) return *info;
  if (const MethodTemplate* t = FindMethodTemplate(config, name)) return MethodTemplateInfo(*t);
  return std::nullopt;
}

std::vector<int> SweepMethodTurns(const SweepConfig& config, std::string_view method) {
  if (const MethodTemplate* t = FindMethodTemplate(config, method); t != nullptr && t->turns) {
    return {*t->turns};
  }
  std::optional<MethodInfo> info = SweepMethodInfo(config, method);
  if (info && info->multi_turn) return config.turns;
  return {1};
}

}  // namespace codesweep
