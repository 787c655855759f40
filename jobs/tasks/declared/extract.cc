#include "jobs/tasks/declared/extract.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "base/json_depth.h"
#include "jobs/tasks/answer_math.h"
#include "jobs/tasks/common.h"
#include "jobs/tasks/declared/final_answer.h"
#include "jobs/tasks/declared/kinds.h"

namespace codesweep {
namespace {

// Replies longer than this are judged on their last part only: answers sit at the end, and the
// bound keeps extraction linear and small on megabyte replies.
constexpr size_t kMaxScan = 1 << 20;

std::string_view Tail(std::string_view s) {
  return s.size() > kMaxScan ? s.substr(s.size() - kMaxScan) : s;
}

std::string_view LastNonEmptyLine(std::string_view text) {
  size_t end = text.size();
  while (end > 0) {
    size_t nl = text.rfind('\n', end - 1);
    size_t begin = nl == std::string_view::npos ? 0 : nl + 1;
    std::string_view line = TrimAscii(text.substr(begin, end - begin));
    if (!line.empty()) return line;
    if (nl == std::string_view::npos) break;
    end = nl;
  }
  return {};
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

const KindTable<ExtractorKind>& Kinds() {
  static const KindTable<ExtractorKind> kinds = {
      {"triple_angle", ExtractorKind::kTripleAngle},
      {"boxed", ExtractorKind::kBoxed},
      {"last_number", ExtractorKind::kLastNumber},
      {"last_line", ExtractorKind::kLastLine},
      {"choice_letter", ExtractorKind::kChoiceLetter},
      {"regex", ExtractorKind::kRegex},
      {"json_field", ExtractorKind::kJsonField},
      {"whole", ExtractorKind::kWhole},
      {"final_yes_no", ExtractorKind::kFinalYesNo},
      {"final_option", ExtractorKind::kFinalOption},
      {"lone_number_line", ExtractorKind::kLoneNumberLine},
  };
  return kinds;
}

std::optional<std::string> LastJsonField(std::string_view text, const FieldRef& field) {
  size_t close = text.rfind('}');
  if (close == std::string_view::npos) return std::nullopt;
  // Try the last few '{' before the last '}' as object starts, innermost first then outwards.
  size_t pos = close;
  for (int tries = 0; tries < 64 && pos > 0; ++tries) {
    pos = text.rfind('{', pos - 1);
    if (pos == std::string_view::npos) break;
    std::string_view candidate = text.substr(pos, close - pos + 1);
    if (JsonTooDeep(candidate)) break;
    nlohmann::json obj = nlohmann::json::parse(candidate, nullptr, false);
    if (obj.is_discarded() || !obj.is_object()) continue;
    const nlohmann::json* value = LookUp(obj, field);
    if (value != nullptr) return FieldText(*value);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> LastNumberText(std::string_view text) {
  text = Tail(text);
  size_t end = text.size();
  while (end > 0 && !IsDigit(text[end - 1])) --end;
  if (end == 0) return std::nullopt;
  size_t begin = end;
  // Walk back over digits, grouping commas between digits, one decimal point, one '/', an
  // exponent.
  while (begin > 0) {
    char c = text[begin - 1];
    if (IsDigit(c)) {
      --begin;
    } else if ((c == ',' || c == '.' || c == '/') && begin >= 2 && IsDigit(text[begin - 2])) {
      --begin;
    } else if ((c == '+' || c == '-') && begin >= 2 &&
               (text[begin - 2] == 'e' || text[begin - 2] == 'E') && begin >= 3 &&
               IsDigit(text[begin - 3])) {
      begin -= 2;
    } else if ((c == 'e' || c == 'E') && begin >= 2 && IsDigit(text[begin - 2])) {
      --begin;
    } else {
      break;
    }
  }
  if (begin > 0 && text[begin - 1] == '-') --begin;
  return std::string(text.substr(begin, end - begin));
}

std::optional<char> UnambiguousChoice(std::string_view text, std::string_view choices) {
  std::string line(LastNonEmptyLine(Tail(text)));
  auto is_choice = [&](char c) { return choices.find(c) != std::string_view::npos; };
  // Strip markup and a leading "answer" label, then see whether one letter is all that is left.
  std::string bare;
  for (char c : line) {
    if (c != '*' && c != '_' && c != '`' && c != '(' && c != ')' && c != '[' && c != ']' &&
        c != '.' && c != ':' && c != '"' && c != '\'') {
      bare += c;
    }
  }
  std::string_view rest = TrimAscii(bare);
  for (std::string_view label : {"the answer is", "final answer", "answer", "option", "choice"}) {
    if (rest.size() >= label.size() && ToLowerAscii(rest.substr(0, label.size())) == label) {
      rest = TrimAscii(rest.substr(label.size()));
      break;
    }
  }
  if (rest.size() == 1 && is_choice(rest[0])) return rest[0];
  // Otherwise exactly one distinct "(X)" in the line.
  std::set<char> seen;
  for (size_t i = 0; i + 2 < line.size(); ++i) {
    if (line[i] == '(' && line[i + 2] == ')' && is_choice(line[i + 1])) seen.insert(line[i + 1]);
  }
  if (seen.size() == 1) return *seen.begin();
  return std::nullopt;
}

Result<Extractor> ParseExtractor(const nlohmann::json& spec) {
  auto kind = ReadKind(spec, Kinds(), "answer", "extractor");
  if (!kind.ok()) return kind.status();
  const std::string& kind_name = kind->second;
  Extractor e;
  e.kind = kind->first;
  e.name = kind_name;
  auto param = [&](const char* key) -> const nlohmann::json* {
    if (!spec.is_object() || !spec.contains(key)) return nullptr;
    return &spec[key];
  };
  if (spec.is_object()) {
    for (const auto& [key, value] : spec.items()) {
      static const std::set<std::string> known = {"kind", "pattern", "choices", "field", "raw"};
      if (!known.count(key)) {
        return Status::InvalidArgument("answer." + kind_name + ": unknown key '" + key + "'");
      }
    }
  }
  if (const nlohmann::json* raw = param("raw")) {
    if (e.kind != ExtractorKind::kTripleAngle && e.kind != ExtractorKind::kBoxed) {
      return Status::InvalidArgument("answer." + kind_name + ": raw is for triple_angle and boxed");
    }
    if (!raw->is_boolean())
      return Status::InvalidArgument("answer." + kind_name + ": raw is true or false");
    e.raw = raw->get<bool>();
  }
  switch (e.kind) {
    case ExtractorKind::kRegex: {
      const nlohmann::json* p = param("pattern");
      if (p == nullptr || !p->is_string()) {
        return Status::InvalidArgument("answer.regex: needs pattern = \"...\" with one group");
      }
      RE2::Options opts;
      opts.set_log_errors(false);
      auto re = std::make_shared<RE2>(p->get<std::string>(), opts);
      if (!re->ok()) {
        return Status::InvalidArgument("answer.regex: bad pattern: " + re->error());
      }
      if (re->NumberOfCapturingGroups() < 1) {
        return Status::InvalidArgument("answer.regex: the pattern needs a capture group");
      }
      e.regex = std::move(re);
      break;
    }
    case ExtractorKind::kChoiceLetter: {
      if (const nlohmann::json* c = param("choices")) {
        if (!c->is_string() || c->get<std::string>().empty()) {
          return Status::InvalidArgument("answer.choice_letter: choices is a string of letters");
        }
        e.choices.clear();
        for (char ch : c->get<std::string>()) {
          if (!std::isalpha(static_cast<unsigned char>(ch))) {
            return Status::InvalidArgument("answer.choice_letter: choices are letters only");
          }
          e.choices += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        }
      }
      break;
    }
    case ExtractorKind::kJsonField: {
      const nlohmann::json* f = param("field");
      if (f == nullptr || !f->is_string()) {
        return Status::InvalidArgument("answer.json_field: needs field = \"name\"");
      }
      Result<FieldRef> ref = ParseFieldRef(f->get<std::string>());
      if (!ref.ok()) return Status::InvalidArgument("answer.json_field: " + ref.status().message());
      e.field = std::move(ref).value();
      break;
    }
    default:
      break;
  }
  return e;
}

Result<std::vector<Extractor>> ParseExtractorChain(const nlohmann::json& spec) {
  std::vector<Extractor> chain;
  if (spec.is_array()) {
    if (spec.empty()) return Status::InvalidArgument("answer: the list of extractors is empty");
    for (const nlohmann::json& one : spec) {
      Result<Extractor> e = ParseExtractor(one);
      if (!e.ok()) return e.status();
      chain.push_back(std::move(e).value());
    }
    return chain;
  }
  Result<Extractor> e = ParseExtractor(spec);
  if (!e.ok()) return e.status();
  chain.push_back(std::move(e).value());
  return chain;
}

std::optional<std::string> ExtractWith(std::string_view reply, const Extractor& extractor,
                                       std::string_view prompt) {
  std::string_view text = Tail(reply);
  switch (extractor.kind) {
    case ExtractorKind::kTripleAngle: {
      if (extractor.raw) return LastTripleAngle(reply);
      std::optional<std::string> a = LastTripleAngle(text);
      if (a && !TrimAscii(*a).empty()) return std::string(TrimAscii(*a));
      return std::nullopt;
    }
    case ExtractorKind::kBoxed: {
      if (extractor.raw) return LastBoxed(reply);
      std::optional<std::string> a = LastBoxed(text);
      if (a && !TrimAscii(*a).empty()) return std::string(TrimAscii(*a));
      return std::nullopt;
    }
    case ExtractorKind::kLastNumber:
      return LastNumberText(text);
    case ExtractorKind::kLastLine: {
      std::string_view line = LastNonEmptyLine(text);
      if (line.empty()) return std::nullopt;
      return std::string(line);
    }
    case ExtractorKind::kChoiceLetter: {
      std::optional<char> c = UnambiguousChoice(text, extractor.choices);
      if (!c) return std::nullopt;
      return std::string(1, *c);
    }
    case ExtractorKind::kRegex: {
      re2::StringPiece input(text.data(), text.size());
      re2::StringPiece group;
      std::optional<std::string> last;
      for (;;) {
        const char* before = input.data();
        if (!RE2::FindAndConsume(&input, *extractor.regex, &group)) break;
        last = std::string(group.data(), group.size());
        if (input.empty()) break;
        // An empty match leaves the input where it was: step over one byte.
        if (input.data() == before) input.remove_prefix(1);
      }
      if (last && !TrimAscii(*last).empty()) return std::string(TrimAscii(*last));
      return std::nullopt;
    }
    case ExtractorKind::kJsonField:
      return LastJsonField(text, extractor.field);
    case ExtractorKind::kWhole: {
      std::string_view all = TrimAscii(text);
      if (all.empty()) return std::nullopt;
      return std::string(all);
    }
    case ExtractorKind::kFinalYesNo: {
      std::string word = FinalYesNo(reply);
      if (word.empty()) return std::nullopt;
      return word;
    }
    case ExtractorKind::kFinalOption: {
      std::string option = FinalOption(reply, ListedOptions(prompt));
      if (option.empty()) return std::nullopt;
      return option;
    }
    case ExtractorKind::kLoneNumberLine:
      return LoneNumberLine(reply);
  }
  return std::nullopt;
}

std::string FormatAnswerFor(const Extractor& extractor, std::string_view answer) {
  switch (extractor.kind) {
    case ExtractorKind::kTripleAngle:
      return "<<<" + std::string(answer) + ">>>";
    case ExtractorKind::kBoxed:
      return "\\boxed{" + std::string(answer) + "}";
    case ExtractorKind::kJsonField: {
      nlohmann::json obj = std::string(answer);
      for (auto step = extractor.field.path.rbegin(); step != extractor.field.path.rend(); ++step) {
        if (const std::string* key = std::get_if<std::string>(&*step)) {
          obj = nlohmann::json{{*key, obj}};
        } else {
          nlohmann::json list = nlohmann::json::array();
          for (size_t i = 0; i < std::get<size_t>(*step); ++i) list.push_back(nullptr);
          list.push_back(obj);
          obj = list;
        }
      }
      return obj.dump();
    }
    default:
      return std::string(answer);
  }
}

std::optional<Extracted> ExtractAnswer(std::string_view reply, const std::vector<Extractor>& chain,
                                       std::string_view prompt) {
  for (size_t i = 0; i < chain.size(); ++i) {
    if (std::optional<std::string> a = ExtractWith(reply, chain[i], prompt)) {
      return Extracted{*a, chain[i].name, i};
    }
  }
  return std::nullopt;
}

}  // namespace codesweep
