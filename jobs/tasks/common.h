// Helpers shared by the task checkers and generators: answer extraction, bounded parsing, data
// loading and Python literal rendering. Pure functions, safe on any bytes (invalid UTF-8, NULs,
// megabytes of input) and linear in the input size; callable from any thread.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace codesweep {

// The text inside the LAST <<<...>>> of `reply` (may span lines), or nullopt if there is none.
std::optional<std::string> LastTripleAngle(std::string_view reply);
// `s` cut to at most `max_bytes` with "..." appended when cut (for Verdict::parsed and reasons).
std::string Truncate(std::string_view s, size_t max_bytes = 200);
// Trims ASCII whitespace at both ends.
std::string_view TrimAscii(std::string_view s);

// The generator seed of one instance: Sha256U64("task|complexity|sample|seed").
uint64_t InstanceSeed(std::string_view task, std::string_view complexity, int64_t sample,
                      uint64_t seed);
// The item that sample index `sample` serves out of `n` items (n >= 1): position (sample mod n) of
// a permutation of 0..n-1 shuffled (Fisher-Yates) by an Rng seeded with
// InstanceSeed(task, level, -1, seed). The first n samples are n distinct items spread over the
// whole list; a different seed gives a different order. O(n).
size_t PermutedItem(std::string_view task, std::string_view level, int64_t sample, uint64_t seed,
                    size_t n);
// Splits on `sep` (keeps empty pieces).
std::vector<std::string_view> SplitOn(std::string_view s, char sep);
// Parses a whole decimal integer (optional sign) in [lo, hi]; nullopt otherwise.
std::optional<int64_t> ParseInt(std::string_view s, int64_t lo, int64_t hi);
std::string ToLowerAscii(std::string_view s);
// Index of `needle` in `hay`, case-insensitive ASCII, starting at `from`; npos if absent.
size_t FindNoCase(std::string_view hay, std::string_view needle, size_t from = 0);

// Reads a whole file; fails with NotFound/IoError naming the path.
Result<std::string> ReadWholeFile(const std::string& path);
// Reads a JSON-lines file (one object per non-empty line); fails naming path:line on bad JSON.
Result<std::vector<nlohmann::json>> ReadJsonLines(const std::string& path);

// A Python expression that evaluates to `value`: json.loads("...") of its compact JSON text,
// ASCII-only. The reference programs embed their instance data this way (needs `import json`).
std::string PyJsonLiteral(const nlohmann::json& value);
// A Python string literal (double-quoted, ASCII-only escapes) holding `s`.
std::string PyStringLiteral(std::string_view s);

}  // namespace codesweep
