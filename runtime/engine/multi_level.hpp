#pragma once
// Node-local levels (LAZARUS_LOCAL_DIR): every version is committed on the nodes, with partner copies
// or XOR parity on other nodes, and every Nth one is copied to the global level in the background. A
// restore takes the newest version it can assemble from the nodes, rebuilding lost nodes' files, and
// falls back to the global level (docs/design.md, "Multi-level checkpoints").
#include <map>
#include <optional>
#include <string>

#include "runtime/engine/global_level.hpp"
#include "runtime/levels/global_flush.hpp"
#include "runtime/levels/local_commit.hpp"
#include "runtime/levels/recovery_plan.hpp"

namespace lazarus::detail {

class MultiLevel final : public StorageLevel {
 public:
  // Collective: every rank creates its node's folder; the node names are gathered.
  explicit MultiLevel(EngineContext& context);

  std::uint64_t highest_version() override;
  std::string location() const override;
  std::filesystem::path version_dir(std::uint64_t version) const override;
  void commit(std::uint64_t version, const RankRecord& mine, Clock::time_point started) override;
  void abandon(std::uint64_t version) override;
  std::vector<std::uint64_t> complete_versions() override;
  std::optional<std::uint64_t> restore_newest() override;
  void restore_exactly(std::uint64_t version) override;
  void settle(bool wait) override;
  void finish() override;
  bool unflushed() const override { return newest_local_ && newest_local_->version > newest_flushed_; }

 private:
  // A version to try, with where it is complete.
  struct Candidate {
    std::uint64_t version = 0;
    int local_holder = -1;  // a rank whose node holds the local manifest; -1: not complete locally
    bool global = false;    // complete at the global level
  };
  // Local: creates this node's folder, private (IoError naming it).
  void make_local_job_dir() const;
  // Collective. Every node's inventory, at rank 0 (empty elsewhere).
  Inventory gather_inventory();
  // Collective. Versions to try, newest first.
  std::vector<Candidate> candidates(const Inventory& inventory);
  // Collective. Restores `candidate.version` from the node-local levels, rebuilding lost files. Returns
  // the agreed failure; `why` says why the version could not be assembled (memory untouched then).
  Outcome try_restore_local(const Candidate& candidate, const Inventory& inventory, std::string& why);
  Outcome assemble_and_restore_local(const Candidate& candidate, const Inventory& inventory, std::string& why);
  // Collective. Starts copying `manifest`'s version to the global level (after the previous copy).
  void start_flush(const Manifest& manifest);

  EngineContext& context_;
  GlobalLevel global_;
  std::filesystem::path local_job_dir_;
  NodeMap nodes_;
  GlobalFlush flush_;
  std::optional<Manifest> newest_local_;  // the last version this Session committed locally, or restored
                                          // from the node-local level only
  std::uint64_t newest_flushed_ = 0;      // the last version this Session started copying to the global level
  bool placement_warned_ = false;
};

}  // namespace lazarus::detail
