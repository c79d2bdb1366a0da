#include "runtime/engine/multi_level.hpp"

#include <algorithm>
#include <cstdio>
#include <set>
#include <system_error>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backends/posix/durable_io.hpp"
#include "lazarus/errors.hpp"
#include "runtime/collective.hpp"
#include "runtime/fault_injection.hpp"
#include "runtime/format/commit_protocol.hpp"
#include "runtime/format/rank_piece.hpp"
#include "runtime/format/version_catalog.hpp"
#include "runtime/levels/placement.hpp"
#include "runtime/levels/recovery.hpp"

namespace lazarus::detail {

MultiLevel::MultiLevel(EngineContext& context)
    : context_(context), global_(context), local_job_dir_(context.options.local_dir / context.options.job) {
  run_collectively(context_.comm, [&] { make_local_job_dir(); });
  nodes_ = NodeMap::gather(context_.comm);
}

void MultiLevel::make_local_job_dir() const {
  try {
    backends::create_private_directory(local_job_dir_);  // 0700, like the global level's
  } catch (const IoError& error) {
    throw IoError(fmt::format("cannot create node-local checkpoint folder {} (LAZARUS_LOCAL_DIR): {}",
                              local_job_dir_.string(), error.what()));
  }
}

std::uint64_t MultiLevel::highest_version() {
  std::uint64_t highest = 0;
  run_collectively(context_.comm, [&] {
    std::error_code error;
    if (!std::filesystem::is_directory(local_job_dir_, error)) make_local_job_dir();  // a lost node folder
    highest = scan_versions(local_job_dir_).highest();
  });
  return std::max(context_.comm.max(highest), global_.highest_version());
}

std::string MultiLevel::location() const {
  return fmt::format("{} (node-local, on every node) and {}", local_job_dir_.string(), global_.location());
}

std::filesystem::path MultiLevel::version_dir(std::uint64_t version) const {
  return version_directory(local_job_dir_, version);
}

void MultiLevel::commit(std::uint64_t version, const RankRecord& mine, Clock::time_point started) {
  const Options& options = context_.options;
  LocalCommit commit = finish_local_commit(context_.comm, options, nodes_, local_job_dir_, version, mine,
                                           flush_.pending().value_or(0));
  if (!placement_warned_) {
    for (const auto& warning : commit.warnings) context_.warn(warning);
  }
  placement_warned_ = true;
  newest_local_ = commit.manifest;
  if (options.flush_every > 0 && version % static_cast<std::uint64_t>(options.flush_every) == 0) {
    start_flush(commit.manifest);
  }
  context_.log(fmt::format("checkpoint version {} committed at the node-local level ({}): {:.1f} MiB on rank 0 ({:.1f} "
                           "MiB file) in {:.3f} s{}",
                           version, to_string(options.redundancy), static_cast<double>(commit.bytes) / (1 << 20),
                           static_cast<double>(commit.file_bytes) / (1 << 20), seconds_since(started),
                           newest_flushed_ == version ? "; copying it to the global level" : ""));
  if (context_.launcher) context_.launcher->report_checkpoint(version);
}

void MultiLevel::abandon(std::uint64_t version) {
  abandon_version(context_.comm, nodes_.is_leader(context_.comm.rank()), local_job_dir_, version);
}

void MultiLevel::start_flush(const Manifest& manifest) {
  if (flush_.pending()) flush_.settle(context_.comm, /*wait=*/true);  // one copy at a time
  flush_.start(version_directory(local_job_dir_, manifest.version), global_.job_dir(), manifest,
               context_.comm.rank(), context_.options.keep);
  newest_flushed_ = manifest.version;
}

void MultiLevel::settle(bool wait) {
  if (auto committed = flush_.settle(context_.comm, wait)) {
    context_.log(fmt::format("version {} committed at the global level", *committed));
  }
}

void MultiLevel::finish() {
  settle(/*wait=*/true);
  // The newest local version reaches the global level when the job ends normally.
  if (unflushed()) start_flush(*newest_local_);
  settle(/*wait=*/true);
}

Inventory MultiLevel::gather_inventory() {
  const backends::Communicator& comm = context_.comm;
  std::string mine;
  run_collectively(comm, [&] {
    if (nodes_.is_leader(comm.rank())) mine = serialize_node_inventory(scan_node_folder(local_job_dir_));
  });
  const auto texts = comm.gather(mine, 0);
  Inventory inventory;
  for (std::size_t rank = 0; rank < texts.size(); ++rank) {
    if (nodes_.is_leader(static_cast<int>(rank))) {
      inventory[nodes_.node_of(static_cast<int>(rank))] = parse_node_inventory(texts[rank]);
    }
  }
  return inventory;
}

std::vector<MultiLevel::Candidate> MultiLevel::candidates(const Inventory& inventory) {
  const backends::Communicator& comm = context_.comm;
  std::vector<std::uint64_t> flat;  // version, local holder + 1, global; three numbers per candidate
  run_collectively(comm, [&] {
    if (comm.rank() != 0) return;
    std::map<std::uint64_t, Candidate> found;
    for (const auto& [node, versions] : inventory) {
      for (const auto& [version, held] : versions) {
        if (!held.manifest) continue;
        Candidate& candidate = found[version];
        candidate.version = version;
        if (candidate.local_holder < 0) candidate.local_holder = nodes_.leader_of(node);
      }
    }
    for (const std::uint64_t version : scan_versions(global_.job_dir()).complete) {
      found[version].version = version;
      found[version].global = true;
    }
    for (auto it = found.rbegin(); it != found.rend(); ++it) {
      flat.insert(flat.end(), {it->second.version, static_cast<std::uint64_t>(it->second.local_holder + 1),
                               it->second.global ? 1u : 0u});
    }
  });
  flat = comm.broadcast(std::move(flat), 0);
  std::vector<Candidate> list;
  for (std::size_t i = 0; i + 2 < flat.size(); i += 3) {
    list.push_back({flat[i], static_cast<int>(flat[i + 1]) - 1, flat[i + 2] != 0});
  }
  return list;
}

std::vector<std::uint64_t> MultiLevel::complete_versions() {
  std::vector<std::uint64_t> listed;
  for (const Candidate& candidate : candidates(gather_inventory())) listed.push_back(candidate.version);
  std::reverse(listed.begin(), listed.end());
  return listed;
}

Outcome MultiLevel::try_restore_local(const Candidate& candidate, const Inventory& inventory, std::string& why) {
  try {
    return assemble_and_restore_local(candidate, inventory, why);
  } catch (const IoError& problem) {
    // Thrown alike on every rank (agreed inside): a node-local folder that cannot take a rebuilt file,
    // say. The version is unusable from the nodes; an older one, or the global level, may do.
    why = problem.what();
    return {};
  }
}

Outcome MultiLevel::assemble_and_restore_local(const Candidate& candidate, const Inventory& inventory, std::string& why) {
  const backends::Communicator& comm = context_.comm;
  const auto version_dir = version_directory(local_job_dir_, candidate.version);
  std::string text;
  Outcome read = agree(comm, capture([&] {
                         if (comm.rank() == candidate.local_holder) text = read_manifest_text(version_dir);
                       }));
  if (!read.ok()) {
    why = read.message;
    return {};
  }
  text = comm.broadcast(std::move(text), candidate.local_holder);
  Manifest manifest;
  try {  // every rank parses the same text: all fail alike
    manifest = parse_version_manifest(text, (version_dir / kManifestFileName).string(), candidate.version);
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
    if (comm.rank() == 0) {
      std::string reason;
      if (auto plan = plan_recovery(manifest, holdings, nodes_.rank_nodes(), bad, reason)) plan_text = serialize_plan(*plan);
      else plan_text = "!" + reason;
    }
    plan_text = comm.broadcast(std::move(plan_text), 0);
    if (plan_text.starts_with("!")) {
      why = plan_text.substr(1);
      return {};
    }
    const RecoveryPlan plan = parse_plan(plan_text);
    auto damaged = carry_out_recovery(comm, nodes_, plan, manifest, local_job_dir_);
    if (damaged.empty()) {
      VerifiedPiece piece;
      const Outcome verified =
          capture([&] { piece = verify_rank_piece(version_dir, manifest, comm.rank(), comm.size(), context_.regions); });
      std::vector<Source> mine;
      const Recovery& own = plan.ranks.at(static_cast<std::size_t>(comm.rank()));
      if (!verified.ok() && verified.kind == ErrorKind::corrupt && own.kind == Recovery::Kind::in_place) {
        mine.push_back(own.source);  // this node's own copy is damaged: plan around it
      }
      damaged = share_sources(comm, mine);
      if (damaged.empty()) {
        const Outcome agreed = agree(comm, verified);
        if (!agreed.ok()) return agreed;
        fault_point("during_restore", comm.rank(), candidate.version);
        const Outcome applied = agree(comm, capture([&] { piece.apply(); }));
        if (!applied.ok()) return applied;
        const auto rebuilt = describe_rebuilt(plan);
        const std::string detail = rebuilt.empty() ? "every rank read its own node-local file"
                                                   : fmt::format("rebuilt: {}", fmt::join(rebuilt, "; "));
        if (comm.rank() == 0 && (context_.options.verbose || !rebuilt.empty())) {
          std::fprintf(stderr, "lazarus: restoring version %llu from node-local storage; %s\n",
                       static_cast<unsigned long long>(candidate.version), detail.c_str());
        }
        if (context_.launcher) context_.launcher->report_restore(candidate.version, "local", detail);
        // Not complete at the global level (its copy there cut short, or not due yet): the Session's end
        // copies it there, as it copies a version it committed.
        if (!candidate.global) newest_local_ = manifest;
        return {};
      }
    }
    if (comm.rank() == 0) {
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

std::optional<std::uint64_t> MultiLevel::restore_newest() {
  const auto start = Clock::now();
  const Inventory inventory = gather_inventory();
  const auto list = candidates(inventory);
  if (list.empty()) {
    if (context_.launcher) context_.launcher->report_restore(0);
    return std::nullopt;
  }
  std::vector<std::pair<std::uint64_t, std::string>> unusable;  // local versions that could not be assembled
  std::string last_problem;
  std::optional<Outcome> mismatch;  // the newest version's mismatch with the protected regions
  for (const Candidate& candidate : list) {
    if (candidate.local_holder >= 0) {
      std::string why;
      const Outcome outcome = try_restore_local(candidate, inventory, why);
      if (outcome.ok() && why.empty()) {
        context_.log(fmt::format("restored checkpoint version {} from the node-local level in {:.3f} s",
                                 candidate.version, seconds_since(start)));
        return candidate.version;
      }
      if (outcome.kind == ErrorKind::mismatch) {
        // Not this program's version: an older one may be (global_level.cpp, restore_newest).
        if (!mismatch) mismatch = outcome;
      } else if (!outcome.ok() && outcome.kind != ErrorKind::corrupt && outcome.kind != ErrorKind::no_checkpoint) {
        throw_if_failed(outcome);
      }
      unusable.emplace_back(candidate.version, fmt::format("version {} ({})", candidate.version,
                                                           outcome.ok() ? why : outcome.message));
    }
    if (!candidate.global) continue;
    const Outcome outcome = global_.try_restore(candidate.version);
    if (outcome.ok()) {
      std::vector<std::string> newer;
      for (const auto& [version, line] : unusable) {
        if (version > candidate.version) newer.push_back(line);
      }
      const std::string detail =
          newer.empty() ? std::string() : fmt::format("newer node-local versions could not be rebuilt: {}", fmt::join(newer, "; "));
      if (context_.comm.rank() == 0 && !newer.empty()) {
        std::fprintf(stderr, "lazarus: %s; restored version %llu from the global level\n", detail.c_str(),
                     static_cast<unsigned long long>(candidate.version));
      }
      if (context_.launcher) context_.launcher->report_restore(candidate.version, "global", detail);
      context_.log(fmt::format("restored checkpoint version {} from the global level in {:.3f} s", candidate.version,
                               seconds_since(start)));
      return candidate.version;
    }
    global_.report_unusable(candidate.version, outcome, "trying older versions");
    if (outcome.kind == ErrorKind::mismatch && !mismatch) mismatch = outcome;
    last_problem = outcome.message;
  }
  if (mismatch) throw_if_failed(*mismatch);
  throw CorruptCheckpoint(fmt::format("none of the {} checkpoint versions of job '{}' could be restored from any level "
                                      "({})",
                                      list.size(), context_.options.job,
                                      last_problem.empty() && !unusable.empty() ? unusable.front().second : last_problem));
}

void MultiLevel::restore_exactly(std::uint64_t version) {
  const Inventory inventory = gather_inventory();
  const auto all = candidates(inventory);
  const auto found = std::find_if(all.begin(), all.end(), [&](const Candidate& c) { return c.version == version; });
  if (found == all.end()) {
    throw NoCheckpoint(fmt::format("checkpoint version {} of job '{}' is complete at no level ({} complete versions)",
                                   version, context_.options.job, all.size()));
  }
  std::string why;  // why the node-local levels could not provide it
  Outcome outcome;
  if (found->local_holder >= 0) {
    outcome = try_restore_local(*found, inventory, why);
    if (outcome.ok() && why.empty()) return;
    if (!outcome.ok() && outcome.kind != ErrorKind::corrupt && outcome.kind != ErrorKind::no_checkpoint) {
      throw_if_failed(outcome);  // a mismatch: the global copy would not match either
    }
  }
  if (found->global) {
    outcome = global_.try_restore(version);
  } else if (outcome.ok()) {
    outcome = {ErrorKind::corrupt, fmt::format("version {} cannot be restored from the node-local level: {}", version, why), 0};
  }
  if (outcome.kind == ErrorKind::no_checkpoint) outcome.kind = ErrorKind::corrupt;
  throw_if_failed(outcome);
  if (context_.launcher) context_.launcher->report_restore(version, "global");
}

}  // namespace lazarus::detail
