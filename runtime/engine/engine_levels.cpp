// Engine, continued: the node-local levels: the copy to the global level, and restarts that rebuild
// lost nodes' files (docs/design.md, "Multi-level checkpoints").
#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lazarus/errors.hpp"
#include "runtime/engine/engine.hpp"
#include "runtime/fault_injection.hpp"
#include "runtime/levels/recovery.hpp"
#include "runtime/format/rank_piece.hpp"
#include "runtime/format/version_catalog.hpp"

namespace lazarus::detail {
namespace {

double seconds_since(Engine::Clock::time_point start) {
  return std::chrono::duration<double>(Engine::Clock::now() - start).count();
}

}  // namespace

void Engine::start_flush(const Manifest& manifest) {
  if (flush_.pending()) flush_.settle(comm_, /*wait=*/true);  // one copy at a time
  flush_.start(version_directory(local_job_dir_, manifest.version), job_dir_, manifest, comm_.rank(), options_.keep);
  newest_flushed_ = manifest.version;
}

Inventory Engine::gather_inventory() {
  std::string mine;
  run_collectively(comm_, [&] {
    if (nodes_.is_leader(comm_.rank())) mine = serialize_node_inventory(scan_node_folder(local_job_dir_));
  });
  const auto texts = comm_.gather(mine, 0);
  Inventory inventory;
  for (std::size_t rank = 0; rank < texts.size(); ++rank) {
    if (nodes_.is_leader(static_cast<int>(rank))) {
      inventory[nodes_.node_of(static_cast<int>(rank))] = parse_node_inventory(texts[rank]);
    }
  }
  return inventory;
}

std::vector<Engine::Candidate> Engine::candidates(const Inventory& inventory) {
  std::vector<std::uint64_t> flat;  // version, local holder + 1, global; three numbers per candidate
  run_collectively(comm_, [&] {
    if (comm_.rank() != 0) return;
    std::map<std::uint64_t, Candidate> found;
    for (const auto& [node, versions] : inventory) {
      for (const auto& [version, held] : versions) {
        if (!held.manifest) continue;
        Candidate& candidate = found[version];
        candidate.version = version;
        if (candidate.local_holder < 0) candidate.local_holder = nodes_.leader_of(node);
      }
    }
    for (const std::uint64_t version : scan_versions(job_dir_).complete) {
      found[version].version = version;
      found[version].global = true;
    }
    for (auto it = found.rbegin(); it != found.rend(); ++it) {
      flat.insert(flat.end(), {it->second.version, static_cast<std::uint64_t>(it->second.local_holder + 1),
                               it->second.global ? 1u : 0u});
    }
  });
  flat = comm_.broadcast(std::move(flat), 0);
  std::vector<Candidate> list;
  for (std::size_t i = 0; i + 2 < flat.size(); i += 3) {
    list.push_back({flat[i], static_cast<int>(flat[i + 1]) - 1, flat[i + 2] != 0});
  }
  return list;
}

Outcome Engine::try_restore_local(const Candidate& candidate, const Inventory& inventory, std::string& why) {
  try {
    return assemble_and_restore_local(candidate, inventory, why);
  } catch (const IoError& problem) {
    // Thrown alike on every rank (agreed inside): a node-local folder that cannot take a rebuilt file,
    // say. The version is unusable from the nodes; an older one, or the global level, may do.
    why = problem.what();
    return {};
  }
}

Outcome Engine::assemble_and_restore_local(const Candidate& candidate, const Inventory& inventory, std::string& why) {
  const auto version_dir = version_directory(local_job_dir_, candidate.version);
  std::string text;
  Outcome read = agree(comm_, capture([&] {
                         if (comm_.rank() == candidate.local_holder) text = serialize_manifest(read_manifest(version_dir));
                       }));
  if (!read.ok()) {
    why = read.message;
    return {};
  }
  text = comm_.broadcast(std::move(text), candidate.local_holder);
  Manifest manifest;
  try {  // every rank parses the same text: all fail alike
    manifest = parse_manifest(text, (version_dir / kManifestFileName).string());
  } catch (const CorruptCheckpoint& problem) {
    why = problem.what();
    return {};
  }
  std::map<std::string, NodeHoldings> holdings;  // rank 0 only
  for (const auto& [node, versions] : inventory) {
    if (auto found = versions.find(candidate.version); found != versions.end()) holdings[node] = found->second;
  }
  std::set<Source> bad;
  for (int round = 0; round < 8; ++round) {
    std::string plan_text;
    if (comm_.rank() == 0) {
      std::string reason;
      if (auto plan = plan_recovery(manifest, holdings, nodes_.rank_nodes(), bad, reason)) plan_text = serialize_plan(*plan);
      else plan_text = "!" + reason;
    }
    plan_text = comm_.broadcast(std::move(plan_text), 0);
    if (plan_text.starts_with("!")) {
      why = plan_text.substr(1);
      return {};
    }
    const RecoveryPlan plan = parse_plan(plan_text);
    auto damaged = carry_out_recovery(comm_, nodes_, plan, manifest, local_job_dir_);
    if (damaged.empty()) {
      VerifiedPiece piece;
      const Outcome verified =
          capture([&] { piece = verify_rank_piece(version_dir, manifest, comm_.rank(), comm_.size(), regions_); });
      std::vector<Source> mine;
      const Recovery& own = plan.ranks.at(static_cast<std::size_t>(comm_.rank()));
      if (!verified.ok() && verified.kind == ErrorKind::corrupt && own.kind == Recovery::Kind::in_place) {
        mine.push_back(own.source);  // this node's own copy is damaged: plan around it
      }
      damaged = share_sources(comm_, mine);
      if (damaged.empty()) {
        const Outcome agreed = agree(comm_, verified);
        if (!agreed.ok()) return agreed;
        fault_point("during_restore", comm_.rank(), candidate.version);
        const Outcome applied = agree(comm_, capture([&] { piece.apply(); }));
        if (!applied.ok()) return applied;
        last_checkpoint_ = Clock::now();
        const auto rebuilt = describe_rebuilt(plan);
        const std::string detail = rebuilt.empty() ? "every rank read its own node-local file"
                                                   : fmt::format("rebuilt: {}", fmt::join(rebuilt, "; "));
        if (comm_.rank() == 0 && (options_.verbose || !rebuilt.empty())) {
          std::fprintf(stderr, "lazarus: restoring version %llu from node-local storage; %s\n",
                       static_cast<unsigned long long>(candidate.version), detail.c_str());
        }
        if (launcher_) launcher_->report_restore(candidate.version, "local", detail);
        return {};
      }
    }
    if (comm_.rank() == 0) {
      for (const Source& source : damaged) {
        std::fprintf(stderr, "lazarus: %s on node %s is missing or damaged; planning around it\n", source.file.c_str(),
                     source.node.c_str());
      }
    }
    bad.insert(damaged.begin(), damaged.end());
  }
  why = "too many damaged copies";
  return {};
}

std::optional<std::uint64_t> Engine::restore_newest_multilevel() {
  const auto start = Clock::now();
  flush_.settle(comm_, /*wait=*/true);
  const Inventory inventory = gather_inventory();
  const auto list = candidates(inventory);
  if (list.empty()) {
    if (launcher_) launcher_->report_restore(0);
    return std::nullopt;
  }
  std::vector<std::pair<std::uint64_t, std::string>> unusable;  // local versions that could not be assembled
  std::string last_problem;
  for (const Candidate& candidate : list) {
    if (candidate.local_holder >= 0) {
      std::string why;
      const Outcome outcome = try_restore_local(candidate, inventory, why);
      if (outcome.ok() && why.empty()) {
        log(fmt::format("restored checkpoint version {} from the node-local level in {:.3f} s", candidate.version,
                        seconds_since(start)));
        return candidate.version;
      }
      if (!outcome.ok() && outcome.kind != ErrorKind::corrupt && outcome.kind != ErrorKind::no_checkpoint) {
        throw_if_failed(outcome);
      }
      unusable.emplace_back(candidate.version, fmt::format("version {} ({})", candidate.version,
                                                           outcome.ok() ? why : outcome.message));
    }
    if (!candidate.global) continue;
    const Outcome outcome = try_restore(candidate.version);
    if (outcome.ok()) {
      std::vector<std::string> newer;
      for (const auto& [version, line] : unusable) {
        if (version > candidate.version) newer.push_back(line);
      }
      const std::string detail =
          newer.empty() ? std::string() : fmt::format("newer node-local versions could not be rebuilt: {}", fmt::join(newer, "; "));
      if (comm_.rank() == 0 && !newer.empty()) {
        std::fprintf(stderr, "lazarus: %s; restored version %llu from the global level\n", detail.c_str(),
                     static_cast<unsigned long long>(candidate.version));
      }
      if (launcher_) launcher_->report_restore(candidate.version, "global", detail);
      log(fmt::format("restored checkpoint version {} from the global level in {:.3f} s", candidate.version,
                      seconds_since(start)));
      return candidate.version;
    }
    if (outcome.kind != ErrorKind::corrupt && outcome.kind != ErrorKind::no_checkpoint) throw_if_failed(outcome);
    if (comm_.rank() == 0) {
      std::fprintf(stderr, "lazarus: checkpoint version %llu of job '%s' is unusable at the global level: %s\n",
                   static_cast<unsigned long long>(candidate.version), options_.job.c_str(), outcome.message.c_str());
      if (outcome.kind == ErrorKind::corrupt) set_aside_version(job_dir_, candidate.version);
    }
    last_problem = outcome.message;
  }
  throw CorruptCheckpoint(fmt::format("none of the {} checkpoint versions of job '{}' could be restored from any level "
                                      "({})",
                                      list.size(), options_.job,
                                      last_problem.empty() && !unusable.empty() ? unusable.front().second : last_problem));
}


}  // namespace lazarus::detail
