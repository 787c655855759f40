#include "jobs/tasks/declared/template.h"

#include <charconv>
#include <cmath>

namespace codesweep {

Result<FieldRef> ParseFieldRef(std::string_view text) {
  FieldRef ref;
  ref.text = std::string(text);
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("field '" + ref.text + "': " + std::string(why));
  };
  if (text.empty()) return bad("empty field name");
  size_t i = 0;
  bool expect_key = true;
  while (i < text.size()) {
    if (text[i] == '[') {
      size_t close = text.find(']', i);
      if (close == std::string_view::npos) return bad("'[' without ']'");
      std::string_view digits = text.substr(i + 1, close - i - 1);
      size_t index = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
      if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
        return bad("a list index must be a non-negative integer");
      }
      if (ref.path.empty() && expect_key) return bad("an index needs a field before it");
      ref.path.emplace_back(index);
      i = close + 1;
      expect_key = false;
      continue;
    }
    if (text[i] == '.') {
      if (expect_key) return bad("empty key");
      ++i;
      expect_key = true;
      if (i == text.size()) return bad("empty key at the end");
      continue;
    }
    if (!expect_key) return bad("expected '.' or '[' after ']'");
    size_t end = text.find_first_of(".[]{}", i);
    if (end == std::string_view::npos) end = text.size();
    if (end < text.size() && text[end] != '.' && text[end] != '[') {
      return bad(std::string("unexpected '") + text[end] + "'");
    }
    std::string key(text.substr(i, end - i));
    size_t a = key.find_first_not_of(" \t");
    size_t b = key.find_last_not_of(" \t");
    if (a == std::string::npos) return bad("empty key");
    ref.path.emplace_back(key.substr(a, b - a + 1));
    i = end;
    expect_key = false;
  }
  return ref;
}

const nlohmann::json* LookUp(const nlohmann::json& row, const FieldRef& ref) {
  const nlohmann::json* cur = &row;
  for (const FieldStep& step : ref.path) {
    if (const std::string* key = std::get_if<std::string>(&step)) {
      if (!cur->is_object()) return nullptr;
      auto it = cur->find(*key);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    } else {
      size_t index = std::get<size_t>(step);
      if (!cur->is_array() || index >= cur->size()) return nullptr;
      cur = &(*cur)[index];
    }
  }
  return cur->is_null() ? nullptr : cur;
}

std::string FieldText(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_number_integer() || value.is_number_unsigned()) return value.dump();
  if (value.is_number_float()) {
    double d = value.get<double>();
    double whole = 0;
    if (std::modf(d, &whole) == 0.0 && std::abs(d) < 1e15) {
      return std::to_string(static_cast<long long>(whole));
    }
    return value.dump();
  }
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<Template> Template::Parse(std::string_view text) {
  Template t;
  t.source_ = std::string(text);
  std::string literal;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '{' && i + 1 < text.size() && text[i + 1] == '{') {
      literal += '{';
      i += 2;
    } else if (c == '}' && i + 1 < text.size() && text[i + 1] == '}') {
      literal += '}';
      i += 2;
    } else if (c == '}') {
      return Status::InvalidArgument("template: '}' at byte " + std::to_string(i) +
                                     " has no '{' (write '}}' for a literal brace)");
    } else if (c == '{') {
      size_t close = text.find_first_of("{}", i + 1);
      if (close == std::string_view::npos || text[close] == '{') {
        return Status::InvalidArgument("template: '{' at byte " + std::to_string(i) +
                                       " is not closed (write '{{' for a literal brace)");
      }
      Result<FieldRef> ref = ParseFieldRef(text.substr(i + 1, close - i - 1));
      if (!ref.ok()) {
        return Status::InvalidArgument("template: at byte " + std::to_string(i) + ": " +
                                       ref.status().message());
      }
      if (!literal.empty()) t.parts_.emplace_back(std::move(literal));
      literal.clear();
      t.parts_.emplace_back(std::move(ref).value());
      i = close + 1;
    } else {
      literal += c;
      ++i;
    }
  }
  if (!literal.empty()) t.parts_.emplace_back(std::move(literal));
  return t;
}

Result<std::string> Template::Render(const nlohmann::json& row) const {
  std::string out;
  for (const auto& part : parts_) {
    if (const std::string* lit = std::get_if<std::string>(&part)) {
      out += *lit;
      continue;
    }
    const FieldRef& ref = std::get<FieldRef>(part);
    const nlohmann::json* value = LookUp(row, ref);
    if (value == nullptr) return Status::InvalidArgument("missing field '" + ref.text + "'");
    out += FieldText(*value);
  }
  return out;
}

Result<std::vector<std::string>> Template::RenderList(const nlohmann::json& row) const {
  if (parts_.size() == 1 && std::holds_alternative<FieldRef>(parts_[0])) {
    const FieldRef& ref = std::get<FieldRef>(parts_[0]);
    const nlohmann::json* value = LookUp(row, ref);
    if (value == nullptr) return Status::InvalidArgument("missing field '" + ref.text + "'");
    if (value->is_array()) {
      std::vector<std::string> out;
      for (const nlohmann::json& v : *value) {
        if (!v.is_null()) out.push_back(FieldText(v));
      }
      return out;
    }
    return std::vector<std::string>{FieldText(*value)};
  }
  Result<std::string> one = Render(row);
  if (!one.ok()) return one.status();
  return std::vector<std::string>{std::move(one).value()};
}

std::vector<FieldRef> Template::fields() const {
  std::vector<FieldRef> out;
  for (const auto& part : parts_) {
    if (const FieldRef* ref = std::get_if<FieldRef>(&part)) out.push_back(*ref);
  }
  return out;
}

}  // namespace codesweep
