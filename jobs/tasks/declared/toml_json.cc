#include "jobs/tasks/declared/toml_json.h"

#include <cstdint>
#include <sstream>
#include <string>

namespace codesweep {

nlohmann::json TomlToJson(const toml::node& n, int max_depth, int depth) {
  if (depth > max_depth) return nullptr;
  if (const toml::table* t = n.as_table()) {
    nlohmann::json o = nlohmann::json::object();
    for (const auto& [k, v] : *t) o[std::string(k.str())] = TomlToJson(v, max_depth, depth + 1);
    return o;
  }
  if (const toml::array* a = n.as_array()) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& e : *a) arr.push_back(TomlToJson(e, max_depth, depth + 1));
    return arr;
  }
  if (n.is_string()) return *n.value<std::string>();
  if (n.is_integer()) return *n.value<int64_t>();
  if (n.is_floating_point()) return *n.value<double>();
  if (n.is_boolean()) return *n.value<bool>();
  std::ostringstream os;  // dates and times: their TOML text
  if (auto d = n.as_date()) os << *d;
  if (auto t = n.as_time()) os << *t;
  if (auto dt = n.as_date_time()) os << *dt;
  return os.str();
}

}  // namespace codesweep
