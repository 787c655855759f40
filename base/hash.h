// Hashing: SHA-256 through OpenSSL (the only OpenSSL user for hashing), and a small deterministic
// PRNG. Both give identical results on every machine and compiler, which cell keys, call keys and
// task generators depend on. Stateless functions; Rng is a value owned by its user.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace codesweep {

// Lower-case hex SHA-256 of the bytes.
std::string Sha256Hex(std::string_view bytes);
// First 8 bytes of SHA-256 as an integer (big-endian), for seeding.
uint64_t Sha256U64(std::string_view bytes);

// SplitMix64-seeded xoshiro256** generator. Same seed, same sequence, everywhere.
// Never use std::*_distribution for anything that must be reproducible: their output is
// implementation-defined. Use the helpers below instead.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t Next();
  // Uniform integer in [lo, hi] (inclusive); requires lo <= hi.
  int64_t Uniform(int64_t lo, int64_t hi);
  // Uniform double in [0, 1).
  double Unit();
  bool Bernoulli(double p) { return Unit() < p; }

 private:
  uint64_t s_[4];
};

}  // namespace codesweep
