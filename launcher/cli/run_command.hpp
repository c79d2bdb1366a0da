#pragma once
// `lazarus run`: its options, their checks, and the hand-over to the supervisor.
#include <CLI/CLI.hpp>

#include "launcher/cli/run_options.hpp"
#include "launcher/cli/usage_error.hpp"

namespace lazarus::launcher {

class RunCommand {
 public:
  explicit RunCommand(CLI::App& app);
  bool selected() const { return command_->parsed(); }
  // The program and its arguments: everything after `--` (split off before parsing, so that the
  // program's own options never meet ours).
  void set_program(std::vector<std::string> command) { options_.command = std::move(command); }
  // Checks the options (UsageError) and runs the job; returns the exit status.
  int execute();

 private:
  CLI::App* command_ = nullptr;
  RunOptions options_;
  std::vector<std::string> injections_;
};

}  // namespace lazarus::launcher
