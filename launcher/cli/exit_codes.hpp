#pragma once
// Exit statuses of the `lazarus` command (docs/launcher.md lists them).
namespace lazarus::launcher {

inline constexpr int kExitSuccess = 0;           // the job finished / the checkpoint is intact
inline constexpr int kExitFailure = 1;           // internal error; for `verify`: the checkpoint is damaged
inline constexpr int kExitUsage = 2;             // bad command line
inline constexpr int kExitRestartsExhausted = 3; // the job failed more than --max-restarts times
inline constexpr int kExitNoSpare = 4;           // a node was lost and no spare node was left
// The same failure (kind and cause: exit code or signal) twice without a new checkpoint: the program's
// own. Failures --inject caused and lost nodes never count (launcher/supervision/restart_policy.hpp).
inline constexpr int kExitNoProgress = 5;
inline constexpr int kExitStopped = 6;           // stopped before the time limit after a final checkpoint: resubmit

}  // namespace lazarus::launcher
