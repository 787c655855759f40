// codesweep: parse the command line, hand over to the chosen subcommand, return its exit code.
#include <cstdio>
#include <map>
#include <string>

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
    {"worker", "Run jobs for a coordinator", codesweep::SetupWorkerCommand},
    {"validate", "Check a sweep file and print its grid without running anything",
     codesweep::SetupValidateCommand},
    {"status", "Show the progress of sweeps in a database (read-only)",
     codesweep::SetupStatusCommand},
    {"tasks", "List tasks, show an instance, or check an answer", codesweep::SetupTasksCommand},
    {"exec", "Run one Python file in the sandbox as a worker would", codesweep::SetupExecCommand},
    {"cache", "Inspect or clear the LLM call cache", codesweep::SetupCacheCommand},
    {"report", "Tables and charts of a sweep's results (md, csv, json, html)",
     codesweep::SetupReportCommand},
    {"show", "Print one cell's whole trajectory: prompts, replies, code, output, verdict",
     codesweep::SetupShowCommand},
    {"keygen", "Write a CURVE key pair for a coordinator or worker", codesweep::SetupKeygenCommand},
    {"view", "Browse sweeps, results and transcripts in a local web viewer (read-only)",
     codesweep::SetupViewCommand},
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"codesweep: run LLM code-vs-text experiment sweeps"};
  app.require_subcommand(1);
  std::map<CLI::App*, codesweep::CommandAction> actions;
  for (const CommandEntry& c : kCommands) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    actions[sub] = c.setup(*sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  for (auto& [sub, action] : actions) {
    if (sub->parsed()) return action();
  }
  std::fprintf(stderr, "codesweep: no subcommand\n");
  return 2;
}
