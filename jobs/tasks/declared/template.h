// Prompt and target templates of declared tasks: literal text with `{field}` references into a
// dataset row. A reference is a path of object keys and list indexes (`{question}`,
// `{meta.source}`, `{choices[2]}`, `{turns[0].text}`); `{{` and `}}` are literal braces.
// Parsing checks the syntax once; rendering fails naming the first field a row lacks. Pure and
// callable from any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"

namespace codesweep {

// One step of a field path: an object key or a list index.
using FieldStep = std::variant<std::string, size_t>;

struct FieldRef {
  std::string text;  // as written between the braces, for messages ("choices[2]")
  std::vector<FieldStep> path;
};

// The value at `ref` in `row`, or nullptr when a key or index is missing (or the value is null).
const nlohmann::json* LookUp(const nlohmann::json& row, const FieldRef& ref);

// A value as template text: strings as they are, integers without a decimal point, other
// numbers in their shortest round-trip form, booleans as true/false, lists and objects as
// compact JSON.
std::string FieldText(const nlohmann::json& value);

class Template {
 public:
  // Fails (InvalidArgument) on an unclosed `{`, a lone `}`, an empty `{}` or a malformed path,
  // naming the byte offset.
  static Result<Template> Parse(std::string_view text);

  // The template with every field replaced by its text in `row`. Fails (InvalidArgument,
  // "missing field 'x'") on the first field `row` does not have.
  Result<std::string> Render(const nlohmann::json& row) const;

  // One or more values: a template that is exactly one field whose value is a list gives one
  // text per element; any other template gives its rendering. Used for targets.
  Result<std::vector<std::string>> RenderList(const nlohmann::json& row) const;

  // The fields the template references, in order of appearance (for validation and docs).
  std::vector<FieldRef> fields() const;
  const std::string& source() const { return source_; }
  bool empty() const { return parts_.empty(); }

 private:
  std::string source_;
  std::vector<std::variant<std::string, FieldRef>> parts_;  // literal text or a field
};

// Parses a field path such as "a.b[3].c" (keys: any characters but . [ ] { }).
Result<FieldRef> ParseFieldRef(std::string_view text);

}  // namespace codesweep
