#pragma once
// Test hook: LAZARUS_FAULT="<point>[,rank=R][,version=V]" makes the matching rank kill itself with
// SIGKILL when it reaches <point> (of version V, when given). Used by the crash-consistency tests;
// inert when the variable is unset; an unknown point is reported on stderr once. Points:
//   before_write   after the version's folder exists, before this rank writes anything
//   during_write   after the first region's dataset is written, before the file is closed
//   after_write    after this rank's file is durable, before the ranks agree
//   during_commit  after all ranks agreed; rank 0: manifest written to its temporary, not renamed
//   after_commit   after the manifest is renamed into place, before retention
//   during_restore after this rank read and verified its data, before memory is changed
//   during_flush   multi-level: in the background copy of version V to the global level, after this
//                  rank's file was written there, before the version is committed there
//   during_flush_commit, after_flush_commit
//                  rank 0, committing that copy at the global level: as during/after_commit
//   during_rebuild, after_rebuild
//                  multi-level restore: a node leader publishing the manifest beside files it rebuilt
//                  for its node: as during/after_commit
#include <cstdint>
#include <span>
#include <string_view>

namespace lazarus::detail {

// Every point above, for the launcher's --inject check.
std::span<const std::string_view> known_fault_points() noexcept;

void fault_point(std::string_view point, int rank, std::uint64_t version);

}  // namespace lazarus::detail
