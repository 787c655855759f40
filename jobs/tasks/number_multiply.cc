// number_multiply: the product of 2..10 signed integers with a fixed number of digits each.
// Complexity "D1_D2_..._Dk" (digits per factor). Exact products in decimal big integers.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "base/hash.h"
#include "jobs/tasks/answer_number.h"
#include "jobs/tasks/common.h"
#include "jobs/tasks/factories.h"

namespace codesweep {
namespace {

constexpr int kMaxFactors = 10;
constexpr int kMaxDigits = 40;

Result<std::vector<int>> ParseDigits(std::string_view complexity) {
  std::vector<int> digits;
  for (std::string_view part : SplitOn(complexity, '_')) {
    auto d = ParseInt(part, 1, kMaxDigits);
    if (!d || part[0] == '+' || part[0] == '-') {
      return Status::InvalidArgument(
          "number_multiply complexity must be D_D_... with each D in 1.." +
          std::to_string(kMaxDigits) + ", got '" + Truncate(complexity, 60) + "'");
    }
    digits.push_back(static_cast<int>(*d));
  }
  if (digits.size() < 2 || digits.size() > kMaxFactors) {
    return Status::InvalidArgument("number_multiply needs 2.." + std::to_string(kMaxFactors) +
                                   " factors, got '" + Truncate(complexity, 60) + "'");
  }
  return digits;
}

// Magnitude in base 1e9, little-endian.
using Limbs = std::vector<uint32_t>;
constexpr uint64_t kBase = 1000000000ULL;

Limbs FromDecimal(std::string_view digits) {
  Limbs out;
  for (size_t end = digits.size(); end > 0;) {
    size_t begin = end >= 9 ? end - 9 : 0;
    uint32_t limb = 0;
    for (size_t i = begin; i < end; ++i) limb = limb * 10 + static_cast<uint32_t>(digits[i] - '0');
    out.push_back(limb);
    end = begin;
  }
  return out;
}

Limbs Multiply(const Limbs& a, const Limbs& b) {
  std::vector<uint64_t> acc(a.size() + b.size() + 1, 0);
  for (size_t i = 0; i < a.size(); ++i) {
    uint64_t carry = 0;
    for (size_t j = 0; j < b.size(); ++j) {
      uint64_t cur = acc[i + j] + static_cast<uint64_t>(a[i]) * b[j] + carry;
      acc[i + j] = cur % kBase;
      carry = cur / kBase;
    }
    for (size_t k = i + b.size(); carry != 0; ++k) {
      uint64_t cur = acc[k] + carry;
      acc[k] = cur % kBase;
      carry = cur / kBase;
    }
  }
  Limbs out(acc.begin(), acc.end());
  while (out.size() > 1 && out.back() == 0) out.pop_back();
  return out;
}

std::string ToDecimal(const Limbs& x) {
  std::string out = std::to_string(x.back());
  for (size_t i = x.size() - 1; i-- > 0;) {
    std::string part = std::to_string(x[i]);
    out.append(9 - part.size(), '0').append(part);
  }
  return out;
}

class NumberMultiplyTask : public Task {
 public:
  std::string_view name() const override { return "number_multiply"; }
  std::string_view description() const override {
    return "Exact product of signed integers; complexity D1_D2_... gives digits per factor";
  }
  std::vector<std::string> complexity_levels() const override {
    return {"1_1", "2_2", "3_3", "3_4", "1_2_4", "1_3_4", "1_2_2_4", "1_1_1_1_1_3",
            "4_4", "5_5", "6_6", "8_8", "12_12", "16_16", "20_20"};
  }
  Status ValidateComplexity(std::string_view complexity) const override {
    return ParseDigits(complexity).status();
  }
  int64_t InstanceCount(std::string_view) const override { return -1; }

  Result<Instance> Generate(std::string_view complexity, int64_t sample,
                            uint64_t seed) const override {
    CS_ASSIGN_OR_RETURN(std::vector<int> digits, ParseDigits(complexity));
    Rng rng(InstanceSeed(name(), complexity, sample, seed));
    std::vector<std::string> factors;
    Limbs product{1};
    bool negative = false;
    for (int d : digits) {
      std::string mag = DrawMagnitude(rng, d);
      bool neg = rng.Bernoulli(0.5);
      negative ^= neg;
      product = Multiply(product, FromDecimal(mag));
      factors.push_back(neg ? "-" + mag : mag);
    }
    std::string result = ToDecimal(product);
    if (negative && result != "0") result = "-" + result;
    Instance inst;
    inst.task = std::string(name());
    inst.complexity = std::string(complexity);
    inst.sample = sample;
    inst.seed = seed;
    inst.prompt = "What is the result of " + Expression(factors) +
                  "? Compute it exactly. Output the final answer as a plain integer in the format "
                  "<<<answer>>>, for example <<<-1234567>>>.";
    inst.truth = result;
    inst.canonical_answer = result;
    inst.data = {{"factors", factors}, {"product", result}};
    return inst;
  }

  Verdict Check(const Instance& instance, std::string_view answer) const override {
    std::string truth = instance.data.value("product", std::string());
    return CheckExactInteger(answer, truth);
  }

  std::string ReferenceSolution(const Instance& instance) const override {
    std::string list;
    for (const auto& f : instance.data.value("factors", std::vector<std::string>())) {
      if (!list.empty()) list += ", ";
      list += f;
    }
    return "# Multiply the factors exactly (Python integers are arbitrary precision).\n"
           "def product(factors):\n"
           "    result = 1\n"
           "    for f in factors:\n"
           "        result *= f\n"
           "    return result\n"
           "\n"
           "factors = [" +
           list +
           "]\n"
           "print(f\"<<<{product(factors)}>>>\")\n";
  }

 private:
  // Exactly d digits, never 0 or 1 (the original's lower bound 10^(d-1)-1 allowed d-1 digits).
  static std::string DrawMagnitude(Rng& rng, int d) {
    if (d == 1) return std::to_string(rng.Uniform(2, 9));
    std::string s(1, static_cast<char>('0' + rng.Uniform(1, 9)));
    for (int i = 1; i < d; ++i) s += static_cast<char>('0' + rng.Uniform(0, 9));
    return s;
  }
  static std::string Expression(const std::vector<std::string>& factors) {
    std::string e;
    for (size_t i = 0; i < factors.size(); ++i) {
      if (i > 0) e += "*";
      e += (factors[i][0] == '-' && i > 0) ? "(" + factors[i] + ")" : factors[i];
    }
    return e;
  }
};

}  // namespace

std::unique_ptr<Task> MakeNumberMultiplyTask() { return std::make_unique<NumberMultiplyTask>(); }

}  // namespace codesweep
