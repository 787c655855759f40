// codesweep: parse the command line, hand over to the chosen subcommand, return its exit code.
// A mistyped subcommand or flag gets the closest known one suggested.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "tools/codesweep/cli_common.h"
#include "tools/codesweep/commands.h"

namespace {

struct CommandEntry {
  const char* name;
  const char* help;
  codesweep::CommandAction (*setup)(CLI::App&);
};

constexpr CommandEntry kCommands[] = {
    {"run", "Run a sweep in this process (coordinator + local workers over inproc)",
     codesweep::SetupRunCommand},
    {"retry", "Put failed or dead cells back to pending and run them again",
     codesweep::SetupRetryCommand},
    {"coordinator", "Serve a sweep to workers over the network",
     codesweep::SetupCoordinatorCommand},
    {"submit", "Hand a new or extended sweep to a running coordinator (dispatched at once)",
     codesweep::SetupSubmitCommand},
    {"worker", "Run jobs for a coordinator", codesweep::SetupWorkerCommand},
    {"validate", "Check a sweep file and print its grid without running anything",
     codesweep::SetupValidateCommand},
    {"status", "Show the progress of sweeps in a database (read-only)",
     codesweep::SetupStatusCommand},
    {"batches", "List provider batches (batch mode), or cancel a sweep's open batches",
     codesweep::SetupBatchesCommand},
    {"tasks", "List tasks, show an instance, or check an answer", codesweep::SetupTasksCommand},
    {"exec", "Run one Python file in the sandbox as a worker would", codesweep::SetupExecCommand},
    {"cache", "Inspect or clear the LLM call cache", codesweep::SetupCacheCommand},
    {"report", "Tables and charts of a sweep's results (md, csv, json, html)",
     codesweep::SetupReportCommand},
    {"show", "Print one cell's whole trajectory: prompts, replies, code, output, verdict",
     codesweep::SetupShowCommand},
    {"export", "Write one record per cell (jsonl or csv): answer, target, verdict, tokens, cost",
     codesweep::SetupExportCommand},
    {"keygen", "Write a CURVE key pair for a coordinator or worker", codesweep::SetupKeygenCommand},
    {"view", "Browse sweeps, results and transcripts in a local web viewer (read-only)",
     codesweep::SetupViewCommand},
};

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The candidate closest to `word`, or "" when none is close (at most a third of it differs).
std::string Closest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;
  for (const std::string& c : candidates) {
    const size_t d = EditDistance(word, c);
    if (d < best_d) {
      best = c;
      best_d = d;
    }
  }
  return best;
}

std::vector<std::string> LongFlags(const CLI::App& app) {
  std::vector<std::string> out;
  for (const CLI::Option* o : app.get_options()) {
    for (const std::string& name : o->get_lnames()) out.push_back("--" + name);
  }
  return out;
}

// For a parse error: the first argument that names no subcommand or flag, with the closest one
// that does. Returns false when there is none to suggest.
bool SuggestFix(CLI::App& app, int argc, char** argv) {
  std::vector<std::string> names;
  for (const CommandEntry& c : kCommands) names.push_back(c.name);
  CLI::App* sub = nullptr;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (sub == nullptr && arg.rfind("-", 0) != 0) {
      if (std::find(names.begin(), names.end(), arg) != names.end()) {
        sub = app.get_subcommand(arg);
        continue;
      }
      const std::string best = Closest(arg, names);
      std::fprintf(stderr, "codesweep: unknown command '%s'%s\n", arg.c_str(),
                   best.empty() ? "" : ("; did you mean '" + best + "'?").c_str());
      return true;
    }
    if (sub == nullptr || arg.rfind("--", 0) != 0) continue;
    const std::string flag = arg.substr(0, arg.find('='));
    std::vector<std::string> flags = LongFlags(*sub);
    if (std::find(flags.begin(), flags.end(), flag) != flags.end()) continue;
    const std::string best = Closest(flag, flags);
    std::fprintf(stderr, "codesweep %s: unknown option '%s'%s\n", sub->get_name().c_str(),
                 flag.c_str(), best.empty() ? "" : ("; did you mean '" + best + "'?").c_str());
    return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"codesweep: run LLM code-vs-text experiment sweeps"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "codesweep " + codesweep::VersionString());
  std::map<CLI::App*, codesweep::CommandAction> actions;
  for (const CommandEntry& c : kCommands) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    actions[sub] = c.setup(*sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const bool unknown_word = dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr ||
                              dynamic_cast<const CLI::RequiredError*>(&e) != nullptr;
    if (unknown_word && SuggestFix(app, argc, argv)) return 2;
    return app.exit(e);
  }
  for (auto& [sub, action] : actions) {
    if (sub->parsed()) return action();
  }
  std::fprintf(stderr, "codesweep: no subcommand\n");
  return 2;
}
