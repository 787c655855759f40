#include "jobs/tasks/declared/scorers.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "jobs/tasks/answer_math.h"
#include "jobs/tasks/answer_number.h"
#include "jobs/tasks/common.h"
#include "jobs/tasks/declared/extract.h"
#include "jobs/tasks/declared/final_answer.h"
#include "jobs/tasks/declared/kinds.h"

namespace codesweep {
namespace {

const KindTable<ScorerKind>& Kinds() {
  static const KindTable<ScorerKind> kinds = {
      {"exact", ScorerKind::kExact},
      {"normalized", ScorerKind::kNormalized},
      {"numeric", ScorerKind::kNumeric},
      {"choice", ScorerKind::kChoice},
      {"regex", ScorerKind::kRegex},
      {"contains", ScorerKind::kContains},
      {"set", ScorerKind::kSet},
      {"math", ScorerKind::kMath},
      {"yes_no", ScorerKind::kYesNo},
      {"option", ScorerKind::kOption},
      {"last_number", ScorerKind::kLastNumber},
  };
  return kinds;
}

Result<double> Tolerance(const nlohmann::json& spec, const char* key, double fallback) {
  if (!spec.is_object() || !spec.contains(key)) return fallback;
  const nlohmann::json& v = spec[key];
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0) {
    return Status::InvalidArgument(std::string("scorer: ") + key + " is a number >= 0");
  }
  return v.get<double>();
}

std::vector<std::string> SplitItems(std::string_view s) {
  std::vector<std::string> items;
  std::string cur;
  auto flush = [&] {
    std::string n = NormalizeText(cur);
    if (!n.empty()) items.push_back(n);
    cur.clear();
  };
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == ',' || c == ';' || c == '\n' || c == '|') {
      flush();
    } else if ((c == ' ' || c == '\t') && i + 5 <= s.size() &&
               ToLowerAscii(s.substr(i, 5)) == " and ") {
      flush();
      i += 3;
    } else {
      cur += c;
    }
  }
  flush();
  return items;
}

Verdict Make(bool correct, double score, std::string_view parsed, std::string reason) {
  Verdict v;
  v.correct = correct;
  v.score = score;
  v.parsed = Truncate(parsed);
  v.reason = std::move(reason);
  return v;
}

}  // namespace

std::string NormalizeText(std::string_view s) {
  std::string lowered;
  lowered.reserve(s.size());
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x80 && std::ispunct(u)) {
      lowered += ' ';
    } else {
      lowered += static_cast<char>(u < 0x80 ? std::tolower(u) : u);
    }
  }
  std::string out;
  size_t i = 0;
  while (i < lowered.size()) {
    while (i < lowered.size() && std::isspace(static_cast<unsigned char>(lowered[i]))) ++i;
    size_t j = i;
    while (j < lowered.size() && !std::isspace(static_cast<unsigned char>(lowered[j]))) ++j;
    std::string_view word(lowered.data() + i, j - i);
    if (!word.empty() && word != "a" && word != "an" && word != "the") {
      if (!out.empty()) out += ' ';
      out += word;
    }
    i = j;
  }
  return out;
}

std::optional<double> ParseNumber(std::string_view s) {
  std::optional<std::string> text = LastNumberText(s);
  if (!text) return std::nullopt;
  std::string cleaned;
  for (char c : *text) {
    if (c != ',') cleaned += c;
  }
  size_t slash = cleaned.find('/');
  errno = 0;
  if (slash != std::string::npos) {
    std::optional<double> num = ReadLastNumber(cleaned.substr(0, slash));
    std::optional<double> den = ReadLastNumber(cleaned.substr(slash + 1));
    if (!num || !den || *den == 0) return std::nullopt;
    double sign = (!cleaned.empty() && cleaned[0] == '-') ? -1 : 1;
    return sign * std::abs(*num) / *den;
  }
  char* end = nullptr;
  double v = std::strtod(cleaned.c_str(), &end);
  if (end == cleaned.c_str() || !std::isfinite(v)) return std::nullopt;
  return v;
}

Result<Scorer> ParseScorer(const nlohmann::json& spec) {
  auto kind = ReadKind(spec, Kinds(), "scorer", "kind");
  if (!kind.ok()) return kind.status();
  const std::string& kind_name = kind->second;
  Scorer s;
  s.kind = kind->first;
  s.name = kind_name;
  if (spec.is_object()) {
    static const std::set<std::string> known = {"kind", "rel_tol", "abs_tol", "case_sensitive",
                                                "pattern"};
    for (const auto& [key, value] : spec.items()) {
      if (!known.count(key)) {
        return Status::InvalidArgument("scorer." + kind_name + ": unknown key '" + key + "'");
      }
    }
  }
  if (s.kind == ScorerKind::kNumeric || s.kind == ScorerKind::kLastNumber) {
    Result<double> rel = Tolerance(spec, "rel_tol", 1e-6);
    if (!rel.ok()) return rel.status();
    Result<double> abs = Tolerance(spec, "abs_tol", 1e-9);
    if (!abs.ok()) return abs.status();
    s.rel_tol = *rel;
    s.abs_tol = *abs;
  }
  if (spec.is_object() && spec.contains("case_sensitive")) {
    if (!spec["case_sensitive"].is_boolean()) {
      return Status::InvalidArgument("scorer." + kind_name + ": case_sensitive is true or false");
    }
    s.case_sensitive = spec["case_sensitive"].get<bool>();
  }
  if (s.kind == ScorerKind::kRegex && spec.is_object() && spec.contains("pattern")) {
    if (!spec["pattern"].is_string()) {
      return Status::InvalidArgument("scorer.regex: pattern is a string");
    }
    RE2::Options opts;
    opts.set_log_errors(false);
    auto re = std::make_shared<RE2>(spec["pattern"].get<std::string>(), opts);
    if (!re->ok()) return Status::InvalidArgument("scorer.regex: bad pattern: " + re->error());
    s.regex = std::move(re);
  }
  return s;
}

Verdict Score(const Scorer& scorer, std::string_view answer,
              const std::vector<std::string>& targets, std::string_view prompt) {
  std::string_view trimmed = TrimAscii(answer);
  if (targets.empty() && !(scorer.kind == ScorerKind::kRegex && scorer.regex)) {
    return Make(false, 0, trimmed, "no target to compare with");
  }
  // The built-in checkers show an answer they cannot read as written, cut to 80 bytes.
  auto unreadable = [&](std::string reason) {
    Verdict v;
    v.parsed = Truncate(answer, 80);
    v.reason = std::move(reason);
    return v;
  };
  switch (scorer.kind) {
    case ScorerKind::kYesNo: {
      std::string got = YesNoWord(answer);
      if (got.empty()) return unreadable("answer is not Yes or No");
      std::string shown = got == "yes" ? "Yes" : "No";
      for (const std::string& t : targets) {
        if (YesNoWord(t) == got) return Make(true, 1, shown, "ok");
      }
      return Make(false, 0, shown, "expected " + Truncate(targets.front(), 80));
    }
    case ScorerKind::kOption: {
      std::map<char, std::string> options = ListedOptions(prompt);
      std::string got = OptionOfAnswer(answer, options);
      if (got.empty()) return unreadable("no option letter in the answer");
      for (const std::string& t : targets) {
        if (OptionOfAnswer(t, options) == got) return Make(true, 1, got, "ok");
      }
      return Make(false, 0, got, "expected " + Truncate(targets.front(), 80));
    }
    case ScorerKind::kLastNumber: {
      std::optional<double> got = ReadLastNumber(answer);
      if (!got) return unreadable("no finite number in the answer");
      char shown[64];
      std::snprintf(shown, sizeof(shown), "%.17g", *got);
      bool any_target = false;
      for (const std::string& t : targets) {
        std::optional<double> want = ReadLastNumber(t);
        if (!want) continue;
        any_target = true;
        if (NearlyEqual(*got, *want, scorer.rel_tol, scorer.abs_tol)) {
          return Make(true, 1, shown, "ok");
        }
      }
      if (!any_target) return Make(false, 0, shown, "the target is not a number");
      return Make(false, 0, shown, "a different number (beyond the tolerance)");
    }
    case ScorerKind::kExact: {
      for (const std::string& t : targets) {
        bool eq = scorer.case_sensitive ? trimmed == TrimAscii(t)
                                        : ToLowerAscii(trimmed) == ToLowerAscii(TrimAscii(t));
        if (eq) return Make(true, 1, trimmed, "ok");
      }
      return Make(false, 0, trimmed, "differs from the target");
    }
    case ScorerKind::kNormalized: {
      std::string got = NormalizeText(trimmed);
      for (const std::string& t : targets) {
        if (!got.empty() && got == NormalizeText(t)) return Make(true, 1, got, "ok");
      }
      return Make(false, 0, got, "differs from the target after normalization");
    }
    case ScorerKind::kNumeric: {
      std::optional<double> got = ParseNumber(trimmed);
      if (!got) return Make(false, 0, trimmed, "no number in the answer");
      std::string shown = FieldText(nlohmann::json(*got));
      bool any_target = false;
      for (const std::string& t : targets) {
        std::optional<double> want = ParseNumber(t);
        if (!want) continue;
        any_target = true;
        if (NearlyEqual(*got, *want, scorer.rel_tol, scorer.abs_tol)) {
          return Make(true, 1, shown, "ok");
        }
      }
      if (!any_target) return Make(false, 0, shown, "the target is not a number");
      return Make(false, 0, shown, "a different number");
    }
    case ScorerKind::kChoice: {
      std::string letters;
      for (const std::string& t : targets) {
        std::optional<char> c = UnambiguousChoice(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
        if (c) letters += *c;
      }
      std::optional<char> got = UnambiguousChoice(trimmed, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
      if (!got) return Make(false, 0, trimmed, "no single option letter in the answer");
      if (letters.find(*got) != std::string::npos) return Make(true, 1, std::string(1, *got), "ok");
      return Make(false, 0, std::string(1, *got), "a different option");
    }
    case ScorerKind::kRegex: {
      re2::StringPiece input(trimmed.data(), trimmed.size());
      if (scorer.regex) {
        if (RE2::FullMatch(input, *scorer.regex)) return Make(true, 1, trimmed, "ok");
        return Make(false, 0, trimmed, "does not match the pattern");
      }
      RE2::Options opts;
      opts.set_log_errors(false);
      for (const std::string& t : targets) {
        RE2 re(t, opts);
        if (!re.ok()) return Make(false, 0, trimmed, "the target is not a valid pattern");
        if (RE2::FullMatch(input, re)) return Make(true, 1, trimmed, "ok");
      }
      return Make(false, 0, trimmed, "does not match the target pattern");
    }
    case ScorerKind::kContains: {
      std::string got = NormalizeText(trimmed);
      for (const std::string& t : targets) {
        std::string want = NormalizeText(t);
        if (want.empty()) continue;
        // Whole words only: " got " contains " want ".
        if ((" " + got + " ").find(" " + want + " ") != std::string::npos) {
          return Make(true, 1, trimmed, "ok");
        }
      }
      return Make(false, 0, trimmed, "the target does not appear in the answer");
    }
    case ScorerKind::kSet: {
      std::vector<std::string> got_items = SplitItems(trimmed);
      std::set<std::string> got(got_items.begin(), got_items.end());
      std::set<std::string> want;
      for (const std::string& t : targets) {
        for (std::string& item : SplitItems(t)) want.insert(std::move(item));
      }
      size_t common = 0;
      for (const std::string& g : got) common += want.count(g);
      if (got.empty()) return Make(false, 0, trimmed, "no items in the answer");
      double precision = static_cast<double>(common) / got.size();
      double recall = want.empty() ? 0 : static_cast<double>(common) / want.size();
      double f1 = common == 0 ? 0 : 2 * precision * recall / (precision + recall);
      if (got == want) return Make(true, 1, trimmed, "ok");
      return Make(false, f1, trimmed,
                  std::to_string(common) + " of " + std::to_string(want.size()) + " items right, " +
                      std::to_string(got.size() - common) + " extra");
    }
    case ScorerKind::kMath: {
      // An answer that boxes its result is judged by the last \boxed{} in it.
      std::optional<std::string> boxed = LastBoxed(answer);
      std::string got = boxed ? *boxed : std::string(answer);
      Verdict v;
      v.parsed = Truncate(NormalizeMathAnswer(got), 120);
      for (const std::string& t : targets) {
        if (MathEquivalent(got, t)) {
          v.correct = true;
          v.score = 1;
          v.reason = "ok";
          return v;
        }
      }
      v.reason = "not equivalent to " + Truncate(targets.front(), 80);
      return v;
    }
  }
  return Make(false, 0, trimmed, "unknown scorer");
}

}  // namespace codesweep
