// The answer readers of the paper's dataset tasks (see final_answer.h), moved here from the
// C++ of the BBH and gsm_hard tasks when those became task files in data/.
#include "jobs/tasks/declared/final_answer.h"

#include <algorithm>
#include <functional>
#include <vector>

#include "jobs/tasks/answer_number.h"
#include "jobs/tasks/common.h"

namespace codesweep {
namespace {

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char Upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }

// Strips quotes, '*', '.', spaces and an "Answer:" prefix around a short
// answer.
std::string_view Clean(std::string_view t) {
  t = TrimAscii(t);
  if (FindNoCase(t, "answer:") == 0) t = TrimAscii(t.substr(7));
  auto junk = [](char c) {
    return c == '*' || c == '"' || c == '\'' || c == '`' || c == '.' || c == ' ' || c == '\n' ||
           c == '\t' || c == '\r' || c == '$';
  };
  while (!t.empty() && junk(t.front())) t.remove_prefix(1);
  while (!t.empty() && junk(t.back())) t.remove_suffix(1);
  return t;
}

// Option letter in `t`: "(C)", "C", "C)", "C." or "(C) text"; else the last
// "(X)" in `t`.
char OptionLetter(std::string_view t, char max_letter) {
  t = Clean(t);
  auto ok = [&](char c) { return IsAlpha(c) && Upper(c) >= 'A' && Upper(c) <= max_letter; };
  if (t.size() >= 3 && t[0] == '(' && t[2] == ')' && ok(t[1])) return Upper(t[1]);
  if (!t.empty() && ok(t[0]) && (t.size() == 1 || t[1] == ')' || t[1] == ':' || t[1] == ' ')) {
    return Upper(t[0]);
  }
  char last = 0;
  for (size_t k = 0; k + 2 < t.size(); ++k) {
    if (t[k] == '(' && t[k + 2] == ')' && ok(t[k + 1])) last = Upper(t[k + 1]);
  }
  return last;
}

// The options "(X) text" listed in a BBH input.
std::map<char, std::string> OptionsOf(std::string_view input) {
  std::map<char, std::string> out;
  for (std::string_view line : SplitOn(input, '\n')) {
    line = TrimAscii(line);
    if (line.size() >= 4 && line[0] == '(' && line[2] == ')' && IsAlpha(line[1])) {
      out[line[1]] = ToLowerAscii(TrimAscii(line.substr(3)));
    }
  }
  return out;
}

// "yes" / "no" from a short answer; "" when it is neither (e.g. "Incorrect").
std::string YesNoOf(std::string_view t) {
  std::string s = ToLowerAscii(Clean(t));
  auto word = [&](const char* w) {
    size_t n = std::char_traits<char>::length(w);
    return s.compare(0, n, w) == 0 && (s.size() == n || !IsAlpha(s[n]));
  };
  if (word("yes")) return "yes";
  if (word("no")) return "no";
  return "";
}

// ---- Fallback without <<<>>>: one unambiguous answer that ends the reply ----

// One mention of an answer candidate: its value ("yes", "(B)") and where it
// lies in the region.
struct Mention {
  std::string value;
  size_t begin = 0, end = 0;
};
using MentionFinder = std::function<std::vector<Mention>(std::string_view region)>;

bool IsMarkup(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '*' || c == '#' || c == '>' || c == '_' ||
         c == '`' || c == '-' || c == '"' || c == '\'' || c == '.' || c == '!';
}

std::string_view TrimMarkup(std::string_view s) {
  while (!s.empty() && IsMarkup(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsMarkup(s.back())) s.remove_suffix(1);
  return s;
}

// The last two non-empty lines of `reply` (markup trimmed); `previous` is empty
// if none.
void LastLines(std::string_view reply, std::string_view* last, std::string_view* previous) {
  *last = *previous = {};
  std::vector<std::string_view> lines = SplitOn(reply, '\n');
  for (size_t i = lines.size(); i-- > 0;) {
    std::string_view line = TrimMarkup(lines[i]);
    if (line.empty()) continue;
    if (last->empty()) {
      *last = line;
    } else {
      *previous = line;
      return;
    }
  }
}

// The text after the last sentence break (". ", "! ", "? ", "; ") of `line`.
std::string_view LastSentence(std::string_view line) {
  for (size_t i = line.size(); i-- > 1;) {
    char c = line[i - 1];
    if (line[i] == ' ' && (c == '.' || c == '!' || c == '?' || c == ';')) {
      return TrimMarkup(line.substr(i));
    }
  }
  return line;
}

size_t CountWords(std::string_view s) {
  size_t n = 0;
  bool in_word = false;
  for (char c : s) {
    bool space = c == ' ' || c == '\t';
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

// The one value `region` answers with, or "" when it names none, several, or
// does not end with it, or is long and never says "answer". `tail_ok(value,
// rest)` accepts what may follow the last mention besides markup (an option's
// own text).
std::string AnswerOfRegion(std::string_view region, const MentionFinder& find,
                           const std::function<bool(const std::string&, std::string_view)>& tail_ok,
                           size_t* mentions) {
  std::vector<Mention> ms = find(region);
  *mentions = ms.size();
  if (ms.empty()) return "";
  for (const Mention& m : ms) {
    if (m.value != ms.front().value) return "";
  }
  std::string_view rest = TrimMarkup(region.substr(ms.back().end));
  if (!rest.empty() && !tail_ok(ms.back().value, rest)) return "";
  const size_t cue = FindNoCase(region, "answer");
  if (CountWords(region) > 4 && (cue == std::string_view::npos || cue > ms.back().begin)) {
    return "";
  }
  return ms.front().value;
}

// The fallback answer of a reply without <<<>>>: the one candidate named by its
// last line (or, when that line names several, by the line's last sentence),
// which must end it; "" otherwise. A question, or the last item of a list of
// options (the line before starts with another option), is not an answer.
std::string UnambiguousFallback(
    std::string_view reply, const MentionFinder& find,
    const std::function<bool(const std::string&, std::string_view)>& tail_ok) {
  std::string_view last, previous;
  LastLines(reply, &last, &previous);
  if (last.empty() || last.back() == '?') return "";
  size_t mentions = 0;
  std::string value = AnswerOfRegion(last, find, tail_ok, &mentions);
  if (value.empty() && mentions > 1)
    value = AnswerOfRegion(LastSentence(last), find, tail_ok, &mentions);
  if (value.empty()) return "";
  std::vector<Mention> before = find(previous);
  std::vector<Mention> here = find(last);
  if (!before.empty() && before.front().begin == 0 && before.front().value != value &&
      !here.empty() && here.front().begin == 0) {
    return "";  // "- Yes\n- No", "(F) ...\n(G) ...": a list of options, not an
                // answer
  }
  return value;
}

// Standalone yes/no words of `s`, lower-cased.
std::vector<Mention> YesNoMentions(std::string_view s) {
  std::vector<Mention> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && !IsAlpha(s[i])) ++i;
    size_t j = i;
    while (j < s.size() && IsAlpha(s[j])) ++j;
    if (j - i == 2 || j - i == 3) {
      std::string w = ToLowerAscii(s.substr(i, j - i));
      if (w == "yes" || w == "no") out.push_back({w, i, j});
    }
    i = j;
  }
  return out;
}

bool NoTail(const std::string&, std::string_view) { return false; }

// Fallback for option letters: "(X)" (X up to `max_letter`) and the exact text
// of an option both name it; the text of the named option may follow its
// letter.
std::string OptionFallback(std::string_view reply, const std::map<char, std::string>& options,
                           char max_letter) {
  auto find = [&](std::string_view s) {
    std::vector<Mention> out;
    for (size_t k = 0; k + 2 < s.size(); ++k) {
      if (s[k] == '(' && s[k + 2] == ')' && s[k + 1] >= 'A' && s[k + 1] <= max_letter) {
        out.push_back({std::string("(") + s[k + 1] + ")", k, k + 3});
      }
    }
    for (const auto& [letter, text] : options) {
      if (text.size() < 2) continue;
      for (size_t at = FindNoCase(s, text); at != std::string_view::npos;
           at = FindNoCase(s, text, at + 1)) {
        out.push_back({std::string("(") + Upper(letter) + ")", at, at + text.size()});
      }
    }
    std::sort(out.begin(), out.end(),
              [](const Mention& a, const Mention& b) { return a.end < b.end; });
    return out;
  };
  auto tail = [&](const std::string& value, std::string_view rest) {
    auto it = options.find(value[1]);
    return it != options.end() && ToLowerAscii(rest) == it->second;
  };
  return UnambiguousFallback(reply, find, tail);
}

// The fallback of a reply without <<<>>>: its last non-empty line, when that line holds exactly
// one number (digits joined by ',', '.' or '/'); an ambiguous last line is no answer.
std::optional<std::string_view> LoneNumberLineOf(std::string_view reply) {
  std::vector<std::string_view> lines = SplitOn(reply, '\n');
  for (size_t i = lines.size(); i-- > 0;) {
    std::string_view line = TrimAscii(lines[i]);
    if (line.empty()) continue;
    int numbers = 0;
    bool in_number = false;
    for (char c : line) {
      const bool digit = c >= '0' && c <= '9';
      if (digit && !in_number) ++numbers;
      in_number = in_number ? (digit || c == ',' || c == '.' || c == '/') : digit;
    }
    if (numbers != 1) return std::nullopt;
    return line;
  }
  return std::nullopt;
}

}  // namespace

std::map<char, std::string> ListedOptions(std::string_view question) { return OptionsOf(question); }

std::string YesNoWord(std::string_view t) { return YesNoOf(t); }

std::string OptionOfAnswer(std::string_view t, const std::map<char, std::string>& options) {
  const char max_letter = options.empty() ? 'G' : options.rbegin()->first;
  std::string cleaned = ToLowerAscii(Clean(t));
  for (const auto& [letter, option] : options) {
    if (cleaned == option) return std::string("(") + letter + ")";
  }
  char letter = OptionLetter(t, max_letter);
  return letter ? std::string("(") + letter + ")" : "";
}

std::string FinalYesNo(std::string_view reply) {
  return UnambiguousFallback(reply, YesNoMentions, NoTail);
}

std::string FinalOption(std::string_view reply, const std::map<char, std::string>& options) {
  const char max_letter = options.empty() ? 'G' : options.rbegin()->first;
  return OptionFallback(reply, options, max_letter);
}

std::optional<std::string> LoneNumberLine(std::string_view reply) {
  std::optional<std::string_view> line = LoneNumberLineOf(reply);
  if (!line || !ReadLastNumber(*line)) return std::nullopt;
  return std::string(*line);
}

}  // namespace codesweep
