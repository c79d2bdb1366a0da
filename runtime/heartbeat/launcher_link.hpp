#pragma once
// A rank's connection to `lazarus run` (docs/launcher.md, "Heartbeat protocol"). When the launcher
// started the job it sets LAZARUS_LAUNCHER (host:port) and LAZARUS_LAUNCHER_TOKEN; the first Session
// of the process then connects, introduces itself, and a background thread sends a heartbeat every
// LAZARUS_HEARTBEAT seconds. Checkpoints, restores and other Session calls are reported as progress.
// The same thread reads what the launcher sends: a `stop` line asks the job to take a final
// checkpoint and stop (Session::should_stop()). Without those variables nothing connects and
// Sessions behave exactly as before.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace lazarus::detail {

// The heartbeat interval LAZARUS_HEARTBEAT gives (`text`, in seconds): the launcher's own bounds
// for --heartbeat, 0.01 to 60 s. Anything else (not a number, trailing characters, out of range) gives
// the default, 0.5 s, and says why in `warning`.
std::chrono::milliseconds heartbeat_interval(std::string_view text, std::string& warning);

class LauncherLink {
 public:
  // The process-wide link, shared by every Session of the process; nullptr when the job was not
  // started by the launcher or the launcher cannot be reached (a warning is printed then: the job runs
  // on, unmonitored). Never throws.
  static std::shared_ptr<LauncherLink> acquire() noexcept;

  virtual ~LauncherLink() = default;
  // Each never throws and never blocks the caller for long: a lost launcher is ignored.
  virtual void report_checkpoint(std::uint64_t version) noexcept = 0;
  // 0: nothing to restore. `level` ("local", "global") and `detail` (what was rebuilt) are optional.
  virtual void report_restore(std::uint64_t version, const std::string& level = {},
                              const std::string& detail = {}) noexcept = 0;
  virtual void report_progress() noexcept = 0;
  // True once the launcher sent `stop` on this rank's connection (and from then on).
  virtual bool stop_requested() const noexcept = 0;
  // Tells the launcher that this rank is stopping on its request (`stopping`); sent once, later calls
  // do nothing.
  virtual void report_stopping() noexcept = 0;
  // Tells the launcher this rank ends normally (sent on destruction, and at exit() for a link whose
  // Sessions were never destroyed), so that the closing connection is not taken for a crash.
  virtual void say_bye() noexcept = 0;
};

}  // namespace lazarus::detail
