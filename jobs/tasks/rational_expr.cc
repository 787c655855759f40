#include "jobs/tasks/rational_expr.h"

#include <algorithm>
#include <numeric>
#include <set>
#include <utility>

namespace codesweep {

std::string Rational::ToString() const {
  return d == 1 ? std::to_string(n) : std::to_string(n) + "/" + std::to_string(d);
}

namespace {
__int128 Gcd128(__int128 a, __int128 b) {
  if (a < 0) a = -a;
  if (b < 0) b = -b;
  while (b != 0) {
    __int128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}
constexpr __int128 kMax = INT64_MAX;
}  // namespace

std::optional<Rational> MakeRational(__int128 n, __int128 d) {
  if (d == 0) return std::nullopt;
  if (d < 0) n = -n, d = -d;
  __int128 g = Gcd128(n, d);
  if (g > 1) n /= g, d /= g;
  if (n > kMax || n < -kMax || d > kMax) return std::nullopt;
  return Rational{static_cast<int64_t>(n), static_cast<int64_t>(d)};
}

// a.n*b.d fits in __int128 since both factors are below 2^63.
std::optional<Rational> Add(Rational a, Rational b) {
  return MakeRational(static_cast<__int128>(a.n) * b.d + static_cast<__int128>(b.n) * a.d,
                      static_cast<__int128>(a.d) * b.d);
}
std::optional<Rational> Sub(Rational a, Rational b) {
  return MakeRational(static_cast<__int128>(a.n) * b.d - static_cast<__int128>(b.n) * a.d,
                      static_cast<__int128>(a.d) * b.d);
}
std::optional<Rational> Mul(Rational a, Rational b) {
  return MakeRational(static_cast<__int128>(a.n) * b.n, static_cast<__int128>(a.d) * b.d);
}
std::optional<Rational> Div(Rational a, Rational b) {
  if (b.n == 0) return std::nullopt;
  return MakeRational(static_cast<__int128>(a.n) * b.d, static_cast<__int128>(a.d) * b.n);
}

namespace {

enum class Tok { kNum, kPlus, kMinus, kMul, kDiv, kOpen, kClose, kFrac, kEnd };

struct Token {
  Tok kind;
  int64_t num = 0;
};

struct Symbol {
  std::string_view text;
  Tok kind;  // kEnd means "ignore"
};

// Longest spellings first where one is a prefix of another.
constexpr Symbol kSymbols[] = {
    {"\\times", Tok::kMul},
    {"\\cdot", Tok::kMul},
    {"\\ast", Tok::kMul},
    {"\\div", Tok::kDiv},
    {"\\dfrac", Tok::kFrac},
    {"\\tfrac", Tok::kFrac},
    {"\\frac", Tok::kFrac},
    {"\\left", Tok::kEnd},
    {"\\right", Tok::kEnd},
    {"\\,", Tok::kEnd},
    {"\\;", Tok::kEnd},
    {"\\!", Tok::kEnd},
    {"\\ ", Tok::kEnd},
    {"\xC3\x97", Tok::kMul},
    {"\xC3\xB7", Tok::kDiv},
    {"\xC2\xB7", Tok::kMul},
    {"\xE2\x8B\x85", Tok::kMul},
    {"\xE2\x88\x97", Tok::kMul},
    {"\xE2\x88\x92", Tok::kMinus},
    {"\xE2\x80\x93", Tok::kMinus},
    {"\xE2\x88\x95", Tok::kDiv},
};

constexpr size_t kMaxTokens = 10000;
constexpr int kMaxDepth = 200;

// Tokenizes; on failure sets *error and returns an empty vector.
std::vector<Token> Tokenize(std::string_view s, std::string* error) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    if (out.size() > kMaxTokens) {
      *error = "expression too long";
      return {};
    }
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '$') {
      ++i;
      continue;
    }
    if (c >= '0' && c <= '9') {
      size_t j = i;
      while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
      if (j < s.size() && s[j] == '.' && j + 1 < s.size() && s[j + 1] >= '0' && s[j + 1] <= '9') {
        *error = "non-integer number '" +
                 std::string(s.substr(i, std::min<size_t>(j - i + 4, 24))) + "'";
        return {};
      }
      if (j - i > 15) {
        *error = "number too large";
        return {};
      }
      int64_t v = 0;
      for (size_t k = i; k < j; ++k) v = v * 10 + (s[k] - '0');
      out.push_back({Tok::kNum, v});
      i = j;
      continue;
    }
    Tok simple = Tok::kEnd;
    bool is_simple = true;
    switch (c) {
      case '+':
        simple = Tok::kPlus;
        break;
      case '-':
        simple = Tok::kMinus;
        break;
      case '*':
        simple = Tok::kMul;
        break;
      case '/':
        simple = Tok::kDiv;
        break;
      case '(':
      case '[':
      case '{':
        simple = Tok::kOpen;
        break;
      case ')':
      case ']':
      case '}':
        simple = Tok::kClose;
        break;
      default:
        is_simple = false;
    }
    if (is_simple) {
      out.push_back({simple});
      ++i;
      continue;
    }
    bool matched = false;
    for (const Symbol& sym : kSymbols) {
      if (s.substr(i, sym.text.size()) == sym.text) {
        if (sym.kind != Tok::kEnd) out.push_back({sym.kind});
        i += sym.text.size();
        matched = true;
        break;
      }
    }
    if (matched) continue;
    unsigned char uc = static_cast<unsigned char>(c);
    *error = (uc >= 0x20 && uc < 0x7f) ? "unexpected '" + std::string(1, c) + "'"
                                       : "unexpected byte " + std::to_string(uc);
    return {};
  }
  out.push_back({Tok::kEnd});
  return out;
}

class Parser {
 public:
  explicit Parser(const std::vector<Token>& toks) : toks_(toks) {}

  ExprResult Run() {
    ExprResult r;
    std::optional<Rational> v = Expr(0);
    if (v && Peek() != Tok::kEnd)
      Fail(Peek() == Tok::kClose ? "unbalanced ')'" : "unexpected token");
    if (!error_.empty()) {
      r.error = error_;
      return r;
    }
    r.ok = true;
    r.value = *v;
    r.literals = std::move(literals_);
    return r;
  }

 private:
  Tok Peek() const { return toks_[pos_].kind; }
  void Fail(std::string msg) {
    if (error_.empty()) error_ = std::move(msg);
  }
  std::optional<Rational> Checked(std::optional<Rational> v, const char* what) {
    if (!v) Fail(what);
    return v;
  }

  std::optional<Rational> Expr(int depth) {
    std::optional<Rational> acc = Term(depth);
    while (acc && (Peek() == Tok::kPlus || Peek() == Tok::kMinus)) {
      bool plus = Peek() == Tok::kPlus;
      ++pos_;
      std::optional<Rational> rhs = Term(depth);
      if (!rhs) return std::nullopt;
      acc = Checked(plus ? Add(*acc, *rhs) : Sub(*acc, *rhs), "arithmetic overflow");
    }
    return acc;
  }

  std::optional<Rational> Term(int depth) {
    std::optional<Rational> acc = Unary(depth);
    while (acc) {
      Tok t = Peek();
      bool implicit = t == Tok::kOpen || t == Tok::kFrac;  // "(a+b)(c+d)" multiplies
      if (t != Tok::kMul && t != Tok::kDiv && !implicit) break;
      if (!implicit) ++pos_;
      std::optional<Rational> rhs = Unary(depth);
      if (!rhs) return std::nullopt;
      if (t == Tok::kDiv) {
        if (rhs->n == 0) {
          Fail("division by zero");
          return std::nullopt;
        }
        acc = Checked(Div(*acc, *rhs), "arithmetic overflow");
      } else {
        acc = Checked(Mul(*acc, *rhs), "arithmetic overflow");
      }
    }
    return acc;
  }

  std::optional<Rational> Unary(int depth) {
    if (depth > kMaxDepth) {
      Fail("expression nested too deeply");
      return std::nullopt;
    }
    if (Peek() == Tok::kMinus || Peek() == Tok::kPlus) {
      bool neg = Peek() == Tok::kMinus;
      ++pos_;
      std::optional<Rational> v = Unary(depth + 1);
      if (!v) return std::nullopt;
      return neg ? Rational{-v->n, v->d} : *v;
    }
    return Primary(depth);
  }

  std::optional<Rational> Group(int depth) {
    if (Peek() != Tok::kOpen) {
      Fail("expected '(' or '{'");
      return std::nullopt;
    }
    ++pos_;
    std::optional<Rational> v = Expr(depth + 1);
    if (!v) return std::nullopt;
    if (Peek() != Tok::kClose) {
      Fail("missing ')'");
      return std::nullopt;
    }
    ++pos_;
    return v;
  }

  std::optional<Rational> Primary(int depth) {
    switch (Peek()) {
      case Tok::kNum: {
        int64_t v = toks_[pos_++].num;
        literals_.push_back(v);
        return Rational{v, 1};
      }
      case Tok::kOpen:
        return Group(depth);
      case Tok::kFrac: {
        ++pos_;
        std::optional<Rational> num = Group(depth);
        if (!num) return std::nullopt;
        std::optional<Rational> den = Group(depth);
        if (!den) return std::nullopt;
        if (den->n == 0) {
          Fail("division by zero");
          return std::nullopt;
        }
        return Checked(Div(*num, *den), "arithmetic overflow");
      }
      case Tok::kEnd:
        Fail("expression ends early");
        return std::nullopt;
      default:
        Fail("operator where a number was expected");
        return std::nullopt;
    }
  }

  const std::vector<Token>& toks_;
  size_t pos_ = 0;
  std::string error_;
  std::vector<int64_t> literals_;
};

}  // namespace

ExprResult EvaluateExpression(std::string_view text) {
  ExprResult r;
  if (text.size() > 100000) {
    r.error = "expression too long";
    return r;
  }
  std::vector<Token> toks = Tokenize(text, &r.error);
  if (toks.empty()) return r;
  return Parser(toks).Run();
}

namespace {

struct Item {
  Rational value;
  std::string expr;
};

class Solver {
 public:
  Solver(Rational target, int64_t max_nodes) : target_(target), budget_(max_nodes) {}

  std::optional<std::string> Search(std::vector<Item>& items) {
    if (--budget_ < 0) return std::nullopt;
    if (items.size() == 1) {
      if (items[0].value == target_) return items[0].expr;
      return std::nullopt;
    }
    std::vector<Rational> key;
    if (items.size() > 3) {
      for (const Item& it : items) key.push_back(it.value);
      std::sort(key.begin(), key.end(),
                [](Rational a, Rational b) { return a.n != b.n ? a.n < b.n : a.d < b.d; });
      if (failed_.count(key)) return std::nullopt;
    }
    for (size_t i = 0; i < items.size(); ++i) {
      for (size_t j = i + 1; j < items.size(); ++j) {
        if (auto found = TryPair(items, i, j)) return found;
        if (budget_ < 0) return std::nullopt;
      }
    }
    if (!key.empty()) failed_.insert(std::move(key));
    return std::nullopt;
  }

 private:
  std::optional<std::string> TryPair(const std::vector<Item>& items, size_t i, size_t j) {
    const Item& a = items[i];
    const Item& b = items[j];
    std::vector<Item> rest;
    rest.reserve(items.size() - 1);
    for (size_t k = 0; k < items.size(); ++k) {
      if (k != i && k != j) rest.push_back(items[k]);
    }
    struct Cand {
      std::optional<Rational> v;
      const Item* l;
      char op;
      const Item* r;
    };
    const Cand cands[] = {
        {Add(a.value, b.value), &a, '+', &b}, {Mul(a.value, b.value), &a, '*', &b},
        {Sub(a.value, b.value), &a, '-', &b}, {Sub(b.value, a.value), &b, '-', &a},
        {Div(a.value, b.value), &a, '/', &b}, {Div(b.value, a.value), &b, '/', &a}};
    for (const Cand& c : cands) {
      if (!c.v) continue;
      rest.push_back({*c.v, "(" + c.l->expr + c.op + c.r->expr + ")"});
      if (auto found = Search(rest)) return found;
      rest.pop_back();
      if (budget_ < 0) return std::nullopt;
    }
    return std::nullopt;
  }

  Rational target_;
  int64_t budget_;
  std::set<std::vector<Rational>,
           bool (*)(const std::vector<Rational>&, const std::vector<Rational>&)>
      failed_{[](const std::vector<Rational>& x, const std::vector<Rational>& y) {
        return std::lexicographical_compare(
            x.begin(), x.end(), y.begin(), y.end(),
            [](Rational a, Rational b) { return a.n != b.n ? a.n < b.n : a.d < b.d; });
      }};
};

}  // namespace

std::optional<std::string> SolveArithmetic(const std::vector<int64_t>& numbers, Rational target,
                                           int64_t max_nodes) {
  if (numbers.empty()) return std::nullopt;
  std::vector<Item> items;
  for (int64_t n : numbers) items.push_back({Rational{n, 1}, std::to_string(n)});
  Solver solver(target, max_nodes);
  std::optional<std::string> e = solver.Search(items);
  if (e && e->size() > 2 && e->front() == '(' && numbers.size() > 1) {
    return e->substr(1, e->size() - 2);  // drop the outermost parentheses
  }
  return e;
}

}  // namespace codesweep
