// Declared methods: template syntax, checks, canonical JSON and hashing. Running one is in
// template_method.cc.
#include "jobs/methods/method_template.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/hash.h"
#include "jobs/tasks/declared/template.h"

namespace codesweep {

namespace {

using json = nlohmann::json;

std::string Known(const std::vector<std::string_view>& allowed) {
  std::string s;
  for (std::string_view a : allowed) s += (s.empty() ? "{" : ", {") + std::string(a) + "}";
  return s;
}

json VersionedJson(const MethodTemplate& t) {
  return {{"system", t.system},
          {"prompt", t.prompt},
          {"code", std::string(CodeModeName(t.code))},
          {"turns", t.turns ? json(*t.turns) : json(nullptr)},
          {"feedback", t.feedback},
          {"feedback_without_code", t.feedback_without_code}};
}

}  // namespace

std::string_view CodeModeName(CodeMode mode) {
  switch (mode) {
    case CodeMode::kExecute:
      return "execute";
    case CodeMode::kNever:
      return "never";
    case CodeMode::kTool:
      return "tool";
  }
  return "execute";
}

std::optional<CodeMode> ParseCodeMode(std::string_view name) {
  for (CodeMode m : {CodeMode::kExecute, CodeMode::kNever, CodeMode::kTool}) {
    if (CodeModeName(m) == name) return m;
  }
  return std::nullopt;
}

const std::vector<std::string_view>& PromptPlaceholders() {
  static const std::vector<std::string_view> v = {"task_prompt", "task", "complexity"};
  return v;
}

const std::vector<std::string_view>& FeedbackPlaceholders() {
  static const std::vector<std::string_view> v = {
      "task_prompt", "task",   "complexity", "reply",     "code", "output",
      "error",       "status", "exit_code",  "execution", "turn"};
  return v;
}

Status CheckTemplateText(std::string_view text, const std::vector<std::string_view>& allowed) {
  if (text.size() > kMaxTemplateBytes) {
    return Status::InvalidArgument("longer than " + std::to_string(kMaxTemplateBytes) + " bytes");
  }
  // The syntax of declared tasks' templates (jobs/tasks/declared/template.h); a method's
  // placeholders are plain names from `allowed`.
  CS_ASSIGN_OR_RETURN(Template parsed, Template::Parse(text));
  for (const FieldRef& ref : parsed.fields()) {
    if (std::find(allowed.begin(), allowed.end(), ref.text) == allowed.end()) {
      return Status::InvalidArgument("unknown placeholder {" + ref.text +
                                     "} (known here: " + Known(allowed) + ")");
    }
  }
  return Status::OK();
}

std::string RenderTemplate(std::string_view text,
                           const std::map<std::string, std::string>& values) {
  Result<Template> parsed = Template::Parse(text);
  if (!parsed.ok()) return std::string(text);  // checked when the template was parsed
  json row = json::object();
  for (const FieldRef& ref : parsed->fields()) {
    auto it = values.find(ref.text);
    row[ref.text] = it == values.end() ? "" : it->second;
  }
  Result<std::string> out = parsed->Render(row);
  return out.ok() ? *out : std::string(text);
}

Status CheckMethodTemplate(const MethodTemplate& t) {
  if (t.name.empty() || t.name.size() > 64 ||
      t.name.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
          std::string::npos) {
    return Status::InvalidArgument("name: use 1-64 letters, digits, '_' or '-'");
  }
  if (FindMethod(t.name) != nullptr) {
    return Status::InvalidArgument("name: \"" + t.name +
                                   "\" is a built-in method; give the template another name");
  }
  struct Text {
    const char* key;
    const std::string* text;
    const std::vector<std::string_view>* allowed;
  };
  for (const Text& x :
       {Text{"system", &t.system, &PromptPlaceholders()},
        Text{"prompt", &t.prompt, &PromptPlaceholders()},
        Text{"feedback", &t.feedback, &FeedbackPlaceholders()},
        Text{"feedback_without_code", &t.feedback_without_code, &FeedbackPlaceholders()}}) {
    Status s = CheckTemplateText(*x.text, *x.allowed);
    if (!s.ok()) return Status::InvalidArgument(std::string(x.key) + ": " + s.message());
  }
  if (t.prompt.empty()) return Status::InvalidArgument("prompt: must not be empty");
  if (t.turns && (*t.turns < 1 || *t.turns > kMaxTemplateTurns)) {
    return Status::InvalidArgument("turns: must be between 1 and " +
                                   std::to_string(kMaxTemplateTurns));
  }
  const bool has_feedback = !t.feedback.empty() || !t.feedback_without_code.empty();
  if (t.code == CodeMode::kTool) {
    if (has_feedback) {
      return Status::InvalidArgument(
          "feedback: not used with code = \"tool\" (the tool loop feeds back every execution "
          "itself)");
    }
    if (t.turns && *t.turns != 1) {
      return Status::InvalidArgument(
          "turns: code = \"tool\" runs one tool loop (up to 8 executions); use turns = 1");
    }
  }
  if (t.turns && *t.turns > 1 && !has_feedback) {
    return Status::InvalidArgument("turns: " + std::to_string(*t.turns) +
                                   " turns need a feedback template (feedback = \"...\")");
  }
  if (!t.feedback_without_code.empty() && t.feedback.empty()) {
    return Status::InvalidArgument("feedback_without_code: needs feedback as well");
  }
  return Status::OK();
}

std::string MethodTemplateJson(const MethodTemplate& t) {
  json j = VersionedJson(t);
  j["name"] = t.name;
  j["description"] = t.description;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<MethodTemplate> MethodTemplateFromJson(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::InvalidArgument("method template: not a JSON object");
  MethodTemplate t;
  auto str = [&](const char* key, std::string& out) -> Status {
    if (!j.contains(key) || !j[key].is_string()) {
      return Status::InvalidArgument(std::string("method template: ") + key + " missing");
    }
    out = j[key].get<std::string>();
    return Status::OK();
  };
  for (auto [key, field] : {std::pair{"name", &t.name},
                            {"description", &t.description},
                            {"system", &t.system},
                            {"prompt", &t.prompt},
                            {"feedback", &t.feedback},
                            {"feedback_without_code", &t.feedback_without_code}}) {
    CS_RETURN_IF_ERROR(str(key, *field));
  }
  std::string code;
  CS_RETURN_IF_ERROR(str("code", code));
  std::optional<CodeMode> mode = ParseCodeMode(code);
  if (!mode) return Status::InvalidArgument("method template: unknown code mode " + code);
  t.code = *mode;
  if (j.contains("turns") && j["turns"].is_number_integer()) {
    t.turns = static_cast<int>(std::clamp<int64_t>(j["turns"].get<int64_t>(), 0, 1000));
  }
  Status s = CheckMethodTemplate(t);
  if (!s.ok()) return Status::InvalidArgument("method template " + t.name + ": " + s.message());
  return t;
}

std::string MethodTemplateVersion(const MethodTemplate& t) {
  std::string bytes =
      "t1\n" + VersionedJson(t).dump(-1, ' ', false, json::error_handler_t::replace);
  return "t1-" + Sha256Hex(bytes).substr(0, 16);
}

std::string MethodTemplateHash(const MethodTemplate& t) { return Sha256Hex(MethodTemplateJson(t)); }

MethodInfo MethodTemplateInfo(const MethodTemplate& t) {
  MethodInfo info;
  info.name = t.name;
  info.prompt_version = MethodTemplateVersion(t);
  info.multi_turn = !t.turns && t.code != CodeMode::kTool && !t.feedback.empty();
  info.needs_tools = t.code == CodeMode::kTool;
  info.needs_system = !t.system.empty();
  info.description =
      t.description.empty()
          ? "declared in the sweep file (code = " + std::string(CodeModeName(t.code)) + ")"
          : t.description;
  return info;
}

}  // namespace codesweep
