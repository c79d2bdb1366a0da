#pragma once
// The multi-level methods of checkpoint_bench (docs/performance.md): a node-local checkpoint (L1, on
// --local-dir, /dev/shm by default) with its redundancy on the other logical node (L2: partner copies
// or XOR parity), and the restore after node 0 is lost, which must rebuild node 0's file on a spare
// node from what the other nodes hold. Every rank is its own logical node (LAZARUS_NODE=node<rank>).
//
// One repetition, each step collective (all ranks call it at the same point):
//   prepare()    fresh folders, a writer Session on node<rank>              (untimed)
//   checkpoint() Session::checkpoint() only                                  (timed)
//   lose_node()  the writer Session ends (its end-of-session copy to the global level happens here),
//                the global copy and node 0's folder are deleted, a restore Session starts with rank 0
//                on the spare node "spare0" (empty folder)                  (untimed)
//   restore()    Session::restore() of that fresh Session                    (timed)
//   finish()     checks that node 0's file was rebuilt on the spare, closes the Session, deletes every
//                folder of the method                                        (untimed)
#include <mpi.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "bench/bench_data.hpp"
#include "lazarus/lazarus.hpp"

namespace lazarus::bench {

class NodeLossMethod {
 public:
  // `base`: the Lazarus options of the run (compression, chunk size); `work_dir`: this method's folder
  // under the run's node-local folder (node<r>/, spare0/, global/ go there). `restored` must not
  // reallocate while this object lives.
  NodeLossMethod(MPI_Comm comm, const Options& base, std::filesystem::path work_dir, Redundancy redundancy,
                 RankData& data, std::vector<double>& restored);

  void prepare();
  void checkpoint();
  void lose_node();
  void restore();
  void finish();

  // This rank's files of the last checkpoint on its node (rank file, partner copy or parity piece,
  // manifest), before the loss.
  std::vector<std::filesystem::path> files() const;
  // Collective: the bytes of every node's version folder (all files), summed over ranks (every rank
  // runs on its own node).
  std::uint64_t bytes_on_nodes() const;

  static std::string node_name(int rank);
  static constexpr const char* kSpareNode = "spare0";

 private:
  Options options_for(const std::filesystem::path& local_dir) const;

  MPI_Comm comm_;
  int rank_ = 0;
  Options base_;
  std::filesystem::path work_dir_;
  RankData& data_;
  std::vector<double>& restored_;
  std::optional<Session> session_;
  std::uint64_t version_ = 0;
};

}  // namespace lazarus::bench
