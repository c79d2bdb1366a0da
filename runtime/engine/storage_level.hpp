#pragma once
// Where checkpoints are committed and where restores find them: the global level alone
// (GlobalLevel), or node-local levels with copies to the global level (MultiLevel). Chosen once, when
// the Session starts (make_storage_level); the engine never asks which one it has.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/engine/engine_context.hpp"
#include "runtime/format/manifest.hpp"

namespace lazarus::detail {

class StorageLevel {
 public:
  virtual ~StorageLevel() = default;

  // Collective. The highest version number this level holds, complete or not (0: none), so that
  // leftovers of a crash are never reused. A job folder removed during the run is made again first,
  // private as at the start (the rank files' `mkdir -p` would make it with the umask's permissions).
  virtual std::uint64_t highest_version() = 0;
  // Local. Where this level keeps the job's versions, for messages.
  virtual std::string location() const = 0;
  // Local. The folder this rank writes its file of `version` into.
  virtual std::filesystem::path version_dir(std::uint64_t version) const = 0;
  // Collective. Makes `version`, whose files every rank wrote (`mine`: this rank's record), complete;
  // tells the launcher. Throws the same error on every rank; the caller then abandons the version.
  virtual void commit(std::uint64_t version, const RankRecord& mine, Clock::time_point started) = 0;
  // Collective. Removes what a failed checkpoint of `version` wrote (every rank's files). Never throws
  // beyond the agreement itself.
  virtual void abandon(std::uint64_t version) = 0;

  // Collective. The complete versions, oldest first.
  virtual std::vector<std::uint64_t> complete_versions() = 0;
  // Collective. Restores the newest version that verifies and matches the protected regions, falling
  // back to older ones (a corrupt one is set aside, one that does not match is left alone); nullopt
  // when there is none. Throws MismatchError when none restored and one did not match, else
  // CorruptCheckpoint when none verifies.
  virtual std::optional<std::uint64_t> restore_newest() = 0;
  // Collective. Restores `version` or throws (NoCheckpoint, CorruptCheckpoint, MismatchError).
  virtual void restore_exactly(std::uint64_t version) = 0;

  // Collective. Commits copies to the global level that every rank finished (`wait`: waits for them).
  virtual void settle(bool /*wait*/) {}
  // Collective; the Session's end: the newest version reaches the global level and is committed there.
  virtual void finish() {}
  // Whether a version committed in this Session has not reached the global level.
  virtual bool unflushed() const { return false; }
};

// Collective (the node-local level gathers every rank's node name).
std::unique_ptr<StorageLevel> make_storage_level(EngineContext& context);

}  // namespace lazarus::detail
