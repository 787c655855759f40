#include "jobs/tasks/answer_math.h"

#include <cmath>
#include <cstdlib>
#include <vector>

#include "base/utf8.h"
#include "jobs/tasks/answer_number.h"
#include "jobs/tasks/common.h"

namespace codesweep {
namespace {

constexpr size_t kMaxAnswer = 4000;
constexpr int kMaxDepth = 64;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Index just past the '}' matching the '{' at `open`, skipping \{ and \}; npos if unbalanced.
size_t MatchBrace(std::string_view s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
      continue;
    }
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return i + 1;
  }
  return std::string_view::npos;
}

void ReplaceAll(std::string* s, std::string_view from, std::string_view to) {
  size_t pos = 0;
  while ((pos = s->find(from, pos)) != std::string::npos) {
    s->replace(pos, from.size(), to);
    pos += to.size();
  }
}

// "\cmd{X}" -> "X" for every occurrence (one pass per occurrence, bounded by the length).
void UnwrapCommand(std::string* s, std::string_view cmd) {
  size_t pos = 0;
  while ((pos = s->find(cmd, pos)) != std::string::npos) {
    size_t open = pos + cmd.size();
    while (open < s->size() && (*s)[open] == ' ') ++open;
    if (open >= s->size() || (*s)[open] != '{') {
      pos = open;
      continue;
    }
    size_t end = MatchBrace(*s, open);
    if (end == std::string::npos) return;
    *s = s->substr(0, pos) + s->substr(open + 1, end - open - 2) + s->substr(end);
  }
}

// Strips a trailing run of unit words ("cm", "square units", "degrees").
void StripUnits(std::string* s) {
  while (true) {
    size_t end = s->size();
    while (end > 0 && (*s)[end - 1] == ' ') --end;
    size_t begin = end;
    while (begin > 0 && (IsAlpha((*s)[begin - 1]) || (*s)[begin - 1] == ' ')) --begin;
    while (begin < end && (*s)[begin] == ' ') ++begin;
    std::string_view run(s->data() + begin, end - begin);
    if (run.size() < 2 || run == "pi" || begin == 0) return;
    char before = (*s)[begin - 1];
    if (before == '\\') return;  // a LaTeX command such as \pi or \infty
    bool spaced = begin >= 1 && (*s)[begin - 1] == ' ';
    size_t k = begin;
    while (k > 0 && (*s)[k - 1] == ' ') --k;
    if (k == 0 || !(IsDigit((*s)[k - 1]) || (*s)[k - 1] == '}' || (*s)[k - 1] == ')' || spaced)) {
      return;
    }
    s->resize(k);
  }
}

class MathParser {
 public:
  explicit MathParser(std::string_view s) : s_(s) {}
  std::optional<double> Run() {
    std::optional<double> v = Expr(0);
    if (!v || pos_ != s_.size() || !std::isfinite(*v)) return std::nullopt;
    return v;
  }

 private:
  bool Eat(std::string_view t) {
    if (s_.substr(pos_, t.size()) != t) return false;
    pos_ += t.size();
    return true;
  }
  bool StartsPrimary() const {
    if (pos_ >= s_.size()) return false;
    char c = s_[pos_];
    if (IsDigit(c) || c == '(' || c == '{' || c == '.') return true;
    std::string_view rest = s_.substr(pos_);
    return rest.rfind("\\frac", 0) == 0 || rest.rfind("\\sqrt", 0) == 0 ||
           rest.rfind("\\pi", 0) == 0 || rest.rfind("pi", 0) == 0;
  }
  std::optional<double> Expr(int d) {
    if (d > kMaxDepth) return std::nullopt;
    std::optional<double> acc = Term(d);
    while (acc && pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) {
      char op = s_[pos_++];
      std::optional<double> r = Term(d);
      if (!r) return std::nullopt;
      acc = op == '+' ? *acc + *r : *acc - *r;
    }
    return acc;
  }
  std::optional<double> Term(int d) {
    std::optional<double> acc = Power(d);
    while (acc) {
      bool div = false;
      if (Eat("*") || Eat("\\cdot") || Eat("\\times")) {
      } else if (Eat("/") || Eat("\\div")) {
        div = true;
      } else if (!StartsPrimary()) {
        break;
      }
      std::optional<double> r = Power(d);
      if (!r) return std::nullopt;
      if (div && *r == 0) return std::nullopt;
      acc = div ? *acc / *r : *acc * *r;
    }
    return acc;
  }
  std::optional<double> Power(int d) {
    std::optional<double> base = Unary(d + 1);
    if (base && Eat("^")) {
      std::optional<double> e = Arg(d + 1);
      if (!e) return std::nullopt;
      return std::pow(*base, *e);
    }
    return base;
  }
  std::optional<double> Unary(int d) {
    if (d > kMaxDepth) return std::nullopt;
    if (Eat("-")) {
      auto v = Unary(d + 1);
      return v ? std::optional<double>(-*v) : std::nullopt;
    }
    if (Eat("+")) return Unary(d + 1);
    return Primary(d);
  }
  // A braced group or a single digit / primary (for \frac12, \sqrt2, x^2).
  std::optional<double> Arg(int d) {
    if (pos_ < s_.size() && s_[pos_] == '{') return Primary(d);
    if (pos_ < s_.size() && IsDigit(s_[pos_])) return static_cast<double>(s_[pos_++] - '0');
    return Unary(d + 1);
  }
  std::optional<double> Primary(int d) {
    if (d > kMaxDepth || pos_ >= s_.size()) return std::nullopt;
    char c = s_[pos_];
    if (c == '(' || c == '{') {
      ++pos_;
      std::optional<double> v = Expr(d + 1);
      if (!v || !Eat(c == '(' ? ")" : "}")) return std::nullopt;
      return v;
    }
    if (IsDigit(c) || c == '.') {
      size_t j = pos_;
      while (j < s_.size() && (IsDigit(s_[j]) || s_[j] == '.')) ++j;
      if (j - pos_ > 300) return std::nullopt;
      std::string tok(s_.substr(pos_, j - pos_));
      char* stop = nullptr;
      double v = std::strtod(tok.c_str(), &stop);
      if (stop != tok.c_str() + tok.size()) return std::nullopt;
      pos_ = j;
      return v;
    }
    if (Eat("\\frac")) {
      std::optional<double> n = Arg(d + 1);
      std::optional<double> m = n ? Arg(d + 1) : std::nullopt;
      if (!m || *m == 0) return std::nullopt;
      return *n / *m;
    }
    if (Eat("\\sqrt")) {
      double index = 2;
      if (Eat("[")) {
        std::optional<double> k = Expr(d + 1);
        if (!k || !Eat("]")) return std::nullopt;
        index = *k;
      }
      std::optional<double> v = Arg(d + 1);
      if (!v || *v < 0 || index == 0) return std::nullopt;
      return std::pow(*v, 1.0 / index);
    }
    if (Eat("\\pi") || Eat("pi")) return M_PI;
    return std::nullopt;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// Splits at top-level commas; empty when there is no top-level comma.
std::vector<std::string> SplitTopLevel(std::string_view s) {
  std::vector<std::string> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (c == ',' && depth == 0) {
      out.emplace_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  if (out.empty()) return out;
  out.emplace_back(s.substr(start));
  return out;
}

bool EquivalentNormalized(const std::string& a, const std::string& b, int depth) {
  if (a == b) return true;
  if (depth > 4) return false;
  std::optional<double> va = EvaluateMath(a), vb = EvaluateMath(b);
  if (va && vb) return NearlyEqual(*va, *vb, 1e-6, 1e-9);
  // Tuples / intervals / lists: same brackets, element-wise equivalent.
  auto strip = [](const std::string& s, char* open, char* close) {
    if (s.size() >= 2 && (s.front() == '(' || s.front() == '[') &&
        (s.back() == ')' || s.back() == ']')) {
      *open = s.front();
      *close = s.back();
      return s.substr(1, s.size() - 2);
    }
    *open = *close = 0;
    return s;
  };
  char oa, ca, ob, cb;
  std::string ia = strip(a, &oa, &ca), ib = strip(b, &ob, &cb);
  if (oa != ob || ca != cb) return false;
  std::vector<std::string> ea = SplitTopLevel(ia), eb = SplitTopLevel(ib);
  if (ea.empty() || ea.size() != eb.size()) return false;
  for (size_t i = 0; i < ea.size(); ++i) {
    if (!EquivalentNormalized(ea[i], eb[i], depth + 1)) return false;
  }
  return true;
}

bool ThousandsGrouped(std::string_view s) {
  size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
  size_t digits = 0;
  while (i < s.size() && IsDigit(s[i])) ++i, ++digits;
  if (digits == 0 || digits > 3 || i == s.size() || s[i] != ',') return false;
  while (i < s.size() && s[i] == ',') {
    for (int k = 1; k <= 3; ++k) {
      if (i + k >= s.size() || !IsDigit(s[i + k])) return false;
    }
    i += 4;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  return i == s.size();
}

}  // namespace

std::optional<std::string> LastBoxed(std::string_view text) {
  size_t pos = text.size();
  for (int tries = 0; tries < 32; ++tries) {
    size_t boxed = pos == 0 ? std::string_view::npos : text.rfind("\\boxed", pos - 1);
    size_t fbox = pos == 0 ? std::string_view::npos : text.rfind("\\fbox", pos - 1);
    size_t at = boxed == std::string_view::npos  ? fbox
                : fbox == std::string_view::npos ? boxed
                                                 : std::max(boxed, fbox);
    if (at == std::string_view::npos) return std::nullopt;
    size_t open = text.find_first_not_of(' ', at + (at == boxed ? 6 : 5));
    if (open != std::string_view::npos && text[open] == '{') {
      size_t end = MatchBrace(text, open);
      if (end != std::string_view::npos) {
        return std::string(text.substr(open + 1, end - open - 2));
      }
    }
    pos = at;
  }
  return std::nullopt;
}

std::string NormalizeMathAnswer(std::string_view in) {
  std::string_view trimmed = TrimAscii(in);
  std::string s(trimmed.substr(0, Utf8CutPoint(trimmed, kMaxAnswer)));
  for (std::string_view cmd : {"\\text", "\\textbf", "\\mathrm", "\\mbox", "\\mathbf", "\\boxed"}) {
    UnwrapCommand(&s, cmd);
  }
  ReplaceAll(&s, "\\dfrac", "\\frac");
  ReplaceAll(&s, "\\tfrac", "\\frac");
  for (std::string_view junk :
       {"\\left", "\\right", "\\displaystyle", "\\!", "\\,", "\\;", "\\:", "\\$", "$", "^\\circ",
        "^{\\circ}", "\\circ", "\xC2\xB0", "\\%", "%", "\\degree"}) {
    ReplaceAll(&s, junk, "");
  }
  ReplaceAll(&s, "\\ ", " ");
  ReplaceAll(&s, "~", " ");
  std::string_view t = TrimAscii(s);
  while (!t.empty() && t.back() == '.') t.remove_suffix(1);
  // "x = 5", "k=5" -> "5"
  if (t.size() > 2 && IsAlpha(t[0])) {
    size_t k = 1;
    while (k < t.size() && t[k] == ' ') ++k;
    if (k < t.size() && t[k] == '=') t = TrimAscii(t.substr(k + 1));
  }
  s = std::string(t);
  StripUnits(&s);
  std::string out;
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') out += c;
  }
  if (ThousandsGrouped(out)) {
    std::string plain;
    for (char c : out) {
      if (c != ',') plain += c;
    }
    out = plain;
  }
  return out;
}

std::optional<double> EvaluateMath(std::string_view normalized) {
  if (normalized.empty() || normalized.size() > kMaxAnswer) return std::nullopt;
  return MathParser(normalized).Run();
}

bool MathEquivalent(std::string_view got, std::string_view truth) {
  if (got.size() > kMaxAnswer) return false;
  return EquivalentNormalized(NormalizeMathAnswer(got), NormalizeMathAnswer(truth), 0);
}

}  // namespace codesweep
