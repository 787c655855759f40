#include "jobs/methods/client_factory.h"

#include <nlohmann/json.hpp>

namespace codesweep {

namespace {

using nlohmann::json;

bool WantsCellHeader(const ModelSpec& model) {
  json o = json::parse(model.options_json, nullptr, false);
  return o.is_object() && o.contains("cell_context_header") &&
         o["cell_context_header"].is_boolean() && o["cell_context_header"].get<bool>();
}

// Adds a header to whatever shape ProviderEnv::extra_headers has (pairs or "Name: value").
template <typename Env>
void AddHeader(Env& env, const std::string& name, const std::string& value) {
  if constexpr (requires { env.extra_headers.emplace_back(name, value); }) {
    env.extra_headers.emplace_back(name, value);
  } else if constexpr (requires { env.extra_headers.emplace_back(name + ": " + value); }) {
    env.extra_headers.emplace_back(name + ": " + value);
  }
}

}  // namespace

std::string CellContextHeader(const JobSpec& spec) {
  json j = {{"task", spec.task},
            {"complexity", spec.complexity},
            {"sample", spec.sample},
            {"seed", spec.seed},
            {"method", spec.method}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<SimOptions> ResolveSimOptions(const std::string& options_json, const SimOptions& d) {
  json user = json::parse(options_json.empty() ? std::string("{}") : options_json, nullptr, false);
  if (user.is_discarded() || !user.is_object()) {
    return Status::InvalidArgument("sim model options must be a JSON object");
  }
  json merged = {{"p_correct", d.p_correct},
                 {"p_correct_decay", d.p_correct_decay},
                 {"p_code", d.p_code},
                 {"latency_ms", d.latency_ms},
                 {"latency_jitter_ms", d.latency_jitter_ms},
                 {"p_hang", d.p_hang},
                 {"p_terminate", d.p_terminate}};
  for (const auto& [k, v] : user.items()) merged[k] = v;
  return SimOptions::FromJson(merged.dump());
}

LlmClientFactory MakeDefaultClientFactory(ProviderEnv env, SimOptions sim_defaults) {
  return [env = std::move(env), sim_defaults](
             const JobSpec& spec, const Task& task,
             const Instance& instance) -> Result<std::unique_ptr<LlmClient>> {
    if (spec.model.provider == "sim") {
      CS_ASSIGN_OR_RETURN(SimOptions options,
                          ResolveSimOptions(spec.model.options_json, sim_defaults));
      return MakeSimClient(spec.model, options, SimContext{&task, &instance, spec.method});
    }
    if (!WantsCellHeader(spec.model)) return MakeProviderClient(spec.model, env);
    ProviderEnv with_header = env;
    AddHeader(with_header, "X-Codesweep-Cell", CellContextHeader(spec));
    return MakeProviderClient(spec.model, with_header);
  };
}

}  // namespace codesweep
