// ReadFilter: which cells a read command (`status`, `report`, `show`, `export`) looks at. An
// empty field matches everything; a field may list several values separated by commas. A model
// matches by its id ("openai:gpt-4o"), its name after the provider ("gpt-4o"), or, for a
// report's model setting ("openai:gpt-4o temperature=0.7"), by the id the setting starts with.
// A plain value type; any thread.
#pragma once

#include <string>
#include <string_view>

namespace codesweep {

struct ReadFilter {
  std::string task;    // e.g. "game24" or "game24,boxlift"
  std::string model;   // e.g. "sim:large" or "large"
  std::string method;  // e.g. "all_code"

  bool empty() const { return task.empty() && model.empty() && method.empty(); }
  bool MatchesTask(std::string_view t) const { return ListHas(task, t); }
  bool MatchesMethod(std::string_view m) const { return ListHas(method, m); }
  bool MatchesModel(std::string_view setting) const {
    if (model.empty()) return true;
    const std::string_view id = setting.substr(0, setting.find(' '));
    const size_t colon = id.find(':');
    return ListHas(model, id) ||
           (colon != std::string_view::npos && ListHas(model, id.substr(colon + 1)));
  }
  bool Matches(std::string_view t, std::string_view model_setting, std::string_view m) const {
    return MatchesTask(t) && MatchesModel(model_setting) && MatchesMethod(m);
  }

  // True when `list` is empty or one of its comma-separated items equals `value`.
  static bool ListHas(std::string_view list, std::string_view value) {
    if (list.empty()) return true;
    size_t start = 0;
    while (start <= list.size()) {
      size_t end = list.find(',', start);
      if (end == std::string_view::npos) end = list.size();
      if (list.substr(start, end - start) == value) return true;
      start = end + 1;
    }
    return false;
  }
};

}  // namespace codesweep
