#pragma once
// `lazarus list`, `lazarus verify` and `lazarus inspect`: read-only views of checkpoints.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

#include "launcher/cli/usage_error.hpp"

namespace lazarus::launcher {

class CheckpointCommands {
 public:
  // Registers the three subcommands on `app`.
  explicit CheckpointCommands(CLI::App& app);
  // Runs the selected one; returns the exit status. Throws UsageError for a bad DIR or FILE.
  int execute();

 private:
  int list() const;
  int verify() const;
  int inspect() const;

  CLI::App* list_ = nullptr;
  CLI::App* verify_ = nullptr;
  CLI::App* inspect_ = nullptr;
  std::string dir_;
  std::string job_ = "default";
  bool job_given_ = false;      // --job on the command line (else DIR may be the job folder itself)
  std::uint64_t version_ = 0;   // verify --version; 0: every complete version
  std::string target_;
};

}  // namespace lazarus::launcher
