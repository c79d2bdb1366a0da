#pragma once
// `lazarus run --inject SPEC` (repeatable): faults the launcher causes itself, each exactly once.
// Time-triggered faults fire once `after=` seconds have passed since `lazarus run` started and, when
// `after-checkpoint=V` is given, once some rank reported checkpoint version V or newer (either
// trigger alone is enough to give; with both, both must hold):
//   kill rank=R after=Ts      SIGKILL rank R, T seconds after `lazarus run` started
//   stop rank=R after=Ts      SIGSTOP rank R (a hang)
//   kill node=NAME after=Ts   SIGKILL every rank on node NAME; a logical node also loses its local
//                             folder, as a real node loses its local disk
//   crash point=P rank=R [version=V] [attempt=A]
//                             sets LAZARUS_FAULT for attempt A (default 1), so that rank R kills
//                             itself at point P of the checkpoint protocol (runtime/fault_injection.hpp)
#include <optional>
#include <string>
#include <vector>

namespace lazarus::launcher {

struct Fault {
  enum class Action { kill, stop, kill_node, crash };
  Action action = Action::kill;
  int rank = -1;
  std::string node;
  double after_seconds = 0;
  unsigned long long after_checkpoint = 0;  // 0: no checkpoint condition
  std::string point;                  // crash
  std::optional<unsigned long long> version;
  int attempt = 1;
  bool fired = false;
  std::string text;  // as given, for the events
};

// Throws UsageError naming the bad spec (also for a key given twice).
Fault parse_fault(const std::string& spec);

}  // namespace lazarus::launcher
