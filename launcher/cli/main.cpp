// The `lazarus` command: `run` supervises an MPI job and restarts it after failures; `list`, `verify`
// and `inspect` look at checkpoints.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <string_view>
#include <vector>
#include <exception>

#include "launcher/cli/checkpoint_commands.hpp"
#include "launcher/cli/exit_codes.hpp"
#include "launcher/cli/run_command.hpp"

int main(int argc, char** argv) {
  using namespace lazarus::launcher;
  CLI::App app{"lazarus: checkpoint/restart for MPI jobs.\n"
               "  lazarus run [options] -- ./app args...   run a job, restart it from its last checkpoint on failure\n"
               "  lazarus list DIR                          list a job's checkpoint versions\n"
               "  lazarus verify DIR                        check every checksum of a version\n"
               "  lazarus inspect FILE|DIR                  show regions, types, shapes, compression",
               "lazarus"};
  app.require_subcommand(1, 1);
  app.footer("Exit status: 0 success; 1 error (verify: checkpoint damaged); 2 usage error; 3 restarts exhausted;\n"
             "4 no spare node left; 5 no progress. See docs/launcher.md.");
  RunCommand run(app);
  CheckpointCommands checkpoints(app);
  // Everything after the first "--" belongs to the program that `lazarus run` starts.
  std::vector<std::string> arguments;
  std::vector<std::string> program;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--") {
      program.assign(argv + i + 1, argv + argc);
      break;
    }
    arguments.emplace_back(argv[i]);
  }
  std::reverse(arguments.begin(), arguments.end());  // CLI11 takes a reversed vector
  run.set_program(std::move(program));
  try {
    app.parse(arguments);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForAllHelp& help) {
    return app.exit(help);
  } catch (const CLI::ParseError& error) {
    app.exit(error);
    return kExitUsage;
  }
  try {
    if (run.selected()) return run.execute();
    return checkpoints.execute();
  } catch (const UsageError& error) {
    std::fprintf(stderr, "lazarus: %s\n", error.what());
    return kExitUsage;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "lazarus: error: %s\n", error.what());
    return kExitFailure;
  }
}
