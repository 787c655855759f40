// bbh_*: four BIG-Bench-Hard subsets (250 items each, no complexity). Multiple-choice subsets are
// judged by option letter (or the exact option text), Yes/No subsets by the answer word. The
// original used a GPT-4o judge whose "Correct" substring test also matched "Incorrect"; here the
// rules are exact and rule-based.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "jobs/tasks/common.h"
#include "jobs/tasks/dataset_task.h"
#include "jobs/tasks/factories.h"

namespace codesweep {
namespace {

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char Upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }

// Strips quotes, '*', '.', spaces and an "Answer:" prefix around a short answer.
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

// Option letter in `t`: "(C)", "C", "C)", "C." or "(C) text"; else the last "(X)" in `t`.
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
std::map<char, std::string> Options(const std::string& input) {
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
std::string YesNo(std::string_view t) {
  std::string s = ToLowerAscii(Clean(t));
  auto word = [&](const char* w) {
    size_t n = std::char_traits<char>::length(w);
    return s.compare(0, n, w) == 0 && (s.size() == n || !IsAlpha(s[n]));
  };
  if (word("yes")) return "yes";
  if (word("no")) return "no";
  return "";
}

// Fallback without <<<>>>: the last standalone "yes"/"no" word of the reply.
std::string LastYesNoWord(std::string_view reply) {
  std::string found;
  size_t i = 0;
  while (i < reply.size()) {
    while (i < reply.size() && !IsAlpha(reply[i])) ++i;
    size_t j = i;
    while (j < reply.size() && IsAlpha(reply[j])) ++j;
    if (j - i == 2 || j - i == 3) {
      std::string w = ToLowerAscii(reply.substr(i, j - i));
      if (w == "yes" || w == "no") found = w;
    }
    i = j;
  }
  return found;
}

constexpr char kWebOfLies[] =
    R"PY(# Web of lies: read the statements in order. "X lies." / "X tells the truth." fix X;
# "Y says X lies." makes Y truthful exactly when the claim about X is right.
import re


def solve(text):
    body = text.split("Question:")[-1].strip()
    truthful = {}
    answer = None
    for sent in re.split(r"(?<=[.?])\s+", body):
        sent = sent.strip()
        m = re.fullmatch(r"(.+?) says (.+?) (lies|tells the truth)\.", sent)
        if m:
            truthful[m[1]] = truthful[m[2]] == (m[3] == "tells the truth")
            continue
        m = re.fullmatch(r"(.+?) (lies|tells the truth)\.", sent)
        if m:
            truthful[m[1]] = m[2] == "tells the truth"
            continue
        m = re.fullmatch(r"Does (.+?) tell the truth\?", sent)
        if m:
            answer = "Yes" if truthful[m[1]] else "No"
    return answer


)PY";

constexpr char kNavigate[] =
    R"PY(# Navigate: simulate the walk on a grid; "Always face forward" keeps the heading fixed,
# "Turn ..." changes it; steps left/right/backward are relative to the heading.
import re


def solve(text):
    body = text.split("?", 1)[1].split("Options:")[0]
    x = y = 0
    dx, dy = 0, 1
    for sent in re.split(r"\.\s*", body):
        sent = sent.strip()
        if not sent or sent == "Always face forward":
            continue
        m = re.fullmatch(r"Take (\d+) steps?(?: (forward|backward|left|right))?", sent)
        if m:
            n, d = int(m[1]), m[2] or "forward"
            vx, vy = {"forward": (dx, dy), "backward": (-dx, -dy),
                      "left": (-dy, dx), "right": (dy, -dx)}[d]
            x, y = x + n * vx, y + n * vy
            continue
        m = re.fullmatch(r"Turn (left|right|around)", sent)
        if m:
            if m[1] == "left":
                dx, dy = -dy, dx
            elif m[1] == "right":
                dx, dy = dy, -dx
            else:
                dx, dy = -dx, -dy
            continue
        raise ValueError("cannot parse: " + sent)
    return "Yes" if (x, y) == (0, 0) else "No"


)PY";

bool IsYesNoSubset(const std::string& subset) {
  return subset == "web_of_lies" || subset == "navigate";
}

DatasetTaskSpec BbhSpec(const std::string& subset, size_t items) {
  const bool yes_no = IsYesNoSubset(subset);
  return {.name = "bbh_" + subset,
          .description = "BIG-Bench-Hard " + subset + " (" + std::to_string(items) + " items; " +
                         (yes_no ? "Yes/No" : "option letter") + ")",
          .levels = {},
          .format_instruction = std::string("Output the final answer in the format <<<answer>>>") +
                                (yes_no ? ", i.e. <<<Yes>>> or <<<No>>>."
                                        : " with the option letter, e.g. <<<(A)>>>."),
          .level_rule = ""};
}

class BbhTask : public DatasetTask {
 public:
  BbhTask(const std::string& subset, size_t item_count, DatasetItems items)
      : DatasetTask(BbhSpec(subset, item_count), std::move(items)),
        subset_(subset),
        yes_no_(IsYesNoSubset(subset)) {}

  Verdict Check(const Instance& instance, std::string_view answer) const override {
    std::string target = instance.data.value("target", std::string());
    std::optional<std::string> inner = LastTripleAngle(answer);
    Verdict v;
    std::string got;
    if (yes_no_) {
      got = inner ? YesNo(*inner) : LastYesNoWord(answer);
      if (got.empty())
        v.reason = inner ? "answer is not Yes or No" : "no <<<answer>>> and no Yes/No";
      got = got.empty() ? "" : (got == "yes" ? "Yes" : "No");
    } else {
      got = MultipleChoice(instance, inner ? std::string_view(*inner) : answer, inner.has_value());
      if (got.empty())
        v.reason = inner ? "no option letter in the answer" : "no <<<answer>>> and no (X) option";
    }
    v.parsed = got.empty() ? Truncate(inner.value_or(""), 80) : got;
    if (got.empty()) return v;
    v.correct = got == target;
    v.score = v.correct ? 1.0 : 0.0;
    v.reason = v.correct ? "ok" : "expected " + target;
    return v;
  }

  std::string ReferenceSolution(const Instance& instance) const override {
    std::string input = PyStringLiteral(instance.data.value("input", std::string()));
    if (yes_no_) {
      return std::string(subset_ == "navigate" ? kNavigate : kWebOfLies) + "question = " + input +
             "\nprint(f\"<<<{solve(question)}>>>\")\n";
    }
    return "# ORACLE, not a solver: no generic program answers " + subset_ +
           " questions written in free text,\n# so this prints the dataset's gold answer.\n"
           "question = " +
           input + "\ngold = " + PyStringLiteral(instance.data.value("target", std::string())) +
           "\nprint(f\"<<<{gold}>>>\")\n";
  }

 private:
  std::string MultipleChoice(const Instance& instance, std::string_view text, bool inner) const {
    std::map<char, std::string> options = Options(instance.data.value("input", std::string()));
    char max_letter = options.empty() ? 'G' : options.rbegin()->first;
    if (inner) {
      std::string cleaned = ToLowerAscii(Clean(text));
      for (const auto& [letter, option] : options) {
        if (cleaned == option) return std::string("(") + letter + ")";
      }
    }
    char letter = inner ? OptionLetter(text, max_letter) : 0;
    if (!inner) {  // fallback: the last "(X)" anywhere in the reply
      for (size_t k = 0; k + 2 < text.size(); ++k) {
        if (text[k] == '(' && text[k + 2] == ')' && text[k + 1] >= 'A' &&
            text[k + 1] <= max_letter) {
          letter = text[k + 1];
        }
      }
    }
    return letter ? std::string("(") + letter + ")" : "";
  }

  std::string subset_;
  bool yes_no_ = false;
};

Result<DatasetRow> ParseRow(const nlohmann::json& r) {
  if (!r.contains("input") || !r["input"].is_string() || !r.contains("target") ||
      !r["target"].is_string()) {
    return Status::Corruption("row without string input/target");
  }
  std::string input = r["input"], target = r["target"];
  DatasetItem item{
      input, target, {{"id", r.value("id", std::string())}, {"input", input}, {"target", target}}};
  return DatasetRow(std::make_pair(std::string(), std::move(item)));
}

}  // namespace

Result<std::unique_ptr<Task>> MakeBbhTask(const std::string& data_dir, const std::string& subset) {
  CS_ASSIGN_OR_RETURN(DatasetItems items,
                      LoadDataset(data_dir + "/bbh/" + subset + ".jsonl", ParseRow));
  const size_t count = items.at("").size();
  return std::unique_ptr<Task>(std::make_unique<BbhTask>(subset, count, std::move(items)));
}

}  // namespace codesweep
