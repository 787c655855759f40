// Exact rational arithmetic over int64 (overflow-checked) and a bounded parser for the arithmetic
// expressions models write (ASCII, Unicode ×÷−·, LaTeX \times \div \cdot \frac{a}{b} \left(
// \right)). Used by game24's checker and solver. Pure functions; safe on any bytes; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace codesweep {

// A reduced fraction n/d with d > 0. Operations return nullopt on int64 overflow or x/0.
struct Rational {
  int64_t n = 0;
  int64_t d = 1;
  bool operator==(const Rational& o) const { return n == o.n && d == o.d; }
  bool operator<(const Rational& o) const {
    return static_cast<__int128>(n) * o.d < static_cast<__int128>(o.n) * d;
  }
  std::string ToString() const;
};
std::optional<Rational> MakeRational(__int128 n, __int128 d);
std::optional<Rational> Add(Rational a, Rational b);
std::optional<Rational> Sub(Rational a, Rational b);
std::optional<Rational> Mul(Rational a, Rational b);
std::optional<Rational> Div(Rational a, Rational b);

struct ExprResult {
  bool ok = false;
  std::string error;              // why it failed: "unexpected 'x'", "division by zero", ...
  Rational value;                 // valid when ok
  std::vector<int64_t> literals;  // every number literal in the expression, in order
};

// Parses and evaluates one expression (no '='). Nesting depth and length are bounded.
ExprResult EvaluateExpression(std::string_view text);

// Finds an expression over `numbers` (each used once; + - * /) equal to `target`, as a fully
// parenthesised ASCII string; nullopt when none exists or `max_nodes` search nodes are spent.
std::optional<std::string> SolveArithmetic(const std::vector<int64_t>& numbers, Rational target,
                                           int64_t max_nodes);

}  // namespace codesweep
