// The spec of an extractor or a scorer in a task file: a kind name ("exact") or a table with a
// `kind` and the kind's parameters ({ kind = "numeric", rel_tol = 1e-3 }). One reader for both.
#pragma once

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace codesweep {

template <typename Kind>
using KindTable = std::vector<std::pair<std::string_view, Kind>>;

// The kinds' names, comma-separated, for messages.
template <typename Kind>
std::string KindNames(const KindTable<Kind>& kinds) {
  std::string out;
  for (const auto& [name, kind] : kinds) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

// The kind `spec` names. Errors: "<where>: a <noun> is a kind name or a table with 'kind' (one
// of ...)" and "<where>: unknown <noun> 'x' (one of ...)".
template <typename Kind>
Result<std::pair<Kind, std::string>> ReadKind(const nlohmann::json& spec,
                                              const KindTable<Kind>& kinds, std::string_view where,
                                              std::string_view noun) {
  std::string name;
  if (spec.is_string()) {
    name = spec.get<std::string>();
  } else if (spec.is_object() && spec.contains("kind") && spec["kind"].is_string()) {
    name = spec["kind"].get<std::string>();
  } else {
    return Status::InvalidArgument(std::string(where) + ": a " + std::string(noun) +
                                   " is a kind name or a table with 'kind' (one of " +
                                   KindNames(kinds) + ")");
  }
  auto it =
      std::find_if(kinds.begin(), kinds.end(), [&](const auto& k) { return k.first == name; });
  if (it == kinds.end()) {
    return Status::InvalidArgument(std::string(where) + ": unknown " + std::string(noun) + " '" +
                                   name + "' (one of " + KindNames(kinds) + ")");
  }
  return std::make_pair(it->second, name);
}

}  // namespace codesweep
