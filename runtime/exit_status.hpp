#pragma once
// The exit status of a process whose Session's end lost a checkpoint (lazarus::kExitCheckpointLost):
// a destructor cannot throw, and a warning alone would let the job end with status 0, so that a
// launcher or a batch system took it for a success. The program still runs to its end: what it does
// after the Session (its own output, MPI_Finalize) is not cut short.
namespace lazarus::detail {

// Makes the process's exit status `status` when it exits normally (main returns, or exit()), after
// the program's own exit-time work (the destructors of its static objects, the atexit handlers it
// registered): Lazarus's handler is registered when the library loads, so it runs nearly last. It
// flushes the standard streams, then ends the process with `status`. The first status set stays.
void fail_at_exit(int status) noexcept;

}  // namespace lazarus::detail
