#pragma once
// The global level alone (LAZARUS_DIR): every rank writes its file into the version folder there and
// rank 0 publishes the manifest. The node-local levels (MultiLevel) use it too, for their copies and
// as the fallback of a restore.
#include "runtime/collective.hpp"
#include "runtime/engine/storage_level.hpp"

namespace lazarus::detail {

class GlobalLevel final : public StorageLevel {
 public:
  // Collective: rank 0 creates the job folder.
  explicit GlobalLevel(EngineContext& context);

  std::uint64_t highest_version() override;
  std::string location() const override { return job_dir_.string(); }
  std::filesystem::path version_dir(std::uint64_t version) const override;
  void commit(std::uint64_t version, const RankRecord& mine, Clock::time_point started) override;
  void abandon(std::uint64_t version) override;
  std::vector<std::uint64_t> complete_versions() override;
  std::optional<std::uint64_t> restore_newest() override;
  void restore_exactly(std::uint64_t version) override;

  const std::filesystem::path& job_dir() const noexcept { return job_dir_; }
  // Collective. The complete versions in the job folder, as rank 0 sees them, oldest first.
  std::vector<std::uint64_t> listed_versions();
  // Collective. Restores `version` when every rank's piece verifies; else returns the agreed failure
  // (memory untouched).
  Outcome try_restore(std::uint64_t version);
  // Collective. After try_restore() failed with `outcome`: rank 0 says so, with `next` (what happens
  // now), and sets a corrupt version aside so that it no longer counts towards `keep` (else retention
  // could delete the good version the restore falls back to). A mismatch with the protected regions
  // is reported but not set aside: the version is intact, only not this program's. Throws `outcome`
  // when it is neither (an I/O error, say).
  void report_unusable(std::uint64_t version, const Outcome& outcome, const std::string& next);

 private:
  // Rank 0: creates the job folder, private (IoError naming it).
  void make_job_dir() const;

  EngineContext& context_;
  std::filesystem::path job_dir_;
};

}  // namespace lazarus::detail
