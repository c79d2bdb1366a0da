#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "launcher/process/process_tools.hpp"
#include "launcher/supervision/peer_identity.hpp"

namespace lazarus::launcher {
namespace {

using std::chrono::milliseconds;

constexpr const char* kToken = "job-token";

// A process started with `environment`, as mpirun starts a rank; waited for until it runs `sleep`
// (before its exec, its environment is still this test's).
class FakeRank {
 public:
  explicit FakeRank(const std::map<std::string, std::string>& environment) : process_({"sleep", "30"}, environment) {
    for (int i = 0; i < 1000 && command_name(process_.pid()) != "sleep"; ++i) std::this_thread::sleep_for(milliseconds(5));
  }
  pid_t pid() const { return process_.pid(); }
  void kill() { process_.kill_all(milliseconds(2000)); }

 private:
  SessionLeader process_;
};

detail::Message hello(int rank, pid_t pid, const std::string& token = kToken) {
  detail::Message message = detail::make_message(detail::MessageType::hello);
  message.token = token;
  message.rank = rank;
  message.size = 4;
  message.pid = pid;
  return message;
}

PeerCredentials credentials_of(pid_t pid) { return {pid, ::geteuid()}; }

TEST(PeerIdentity, TheRankItClaimsToBeIsAccepted) {
  FakeRank rank({{"LAZARUS_LAUNCHER_TOKEN", kToken}, {"OMPI_COMM_WORLD_RANK", "2"}});
  EXPECT_EQ(impostor_reason(credentials_of(rank.pid()), hello(2, rank.pid()), kToken), std::nullopt);
}

TEST(PeerIdentity, AProcessOfTheJobClaimingAnotherRankIsAnImpostor) {
  FakeRank rank({{"LAZARUS_LAUNCHER_TOKEN", kToken}, {"OMPI_COMM_WORLD_RANK", "2"}});
  EXPECT_EQ(impostor_reason(credentials_of(rank.pid()), hello(1, rank.pid()), kToken).value_or(""),
            "the hello claims rank 1, but the peer process is rank 2 (OMPI_COMM_WORLD_RANK)");
}

// Under mpirun in a Slurm allocation every rank has the batch step's SLURM_PROCID=0: Open MPI's own
// variable decides.
TEST(PeerIdentity, TheLaunchersOwnRankVariableComesBeforeSlurms) {
  FakeRank rank({{"LAZARUS_LAUNCHER_TOKEN", kToken}, {"OMPI_COMM_WORLD_RANK", "3"}, {"SLURM_PROCID", "0"}});
  EXPECT_EQ(impostor_reason(credentials_of(rank.pid()), hello(3, rank.pid()), kToken), std::nullopt);
}

// The forged-rank attack: a hello naming another process's pid (here a real rank's), so that the
// launcher would signal it.
TEST(PeerIdentity, AHelloNamingAnotherPidIsAnImpostor) {
  FakeRank rank({{"LAZARUS_LAUNCHER_TOKEN", kToken}, {"OMPI_COMM_WORLD_RANK", "0"}});
  FakeRank other({{"LAZARUS_LAUNCHER_TOKEN", kToken}, {"OMPI_COMM_WORLD_RANK", "1"}});
  const auto reason = impostor_reason(credentials_of(rank.pid()), hello(1, other.pid()), kToken);
  EXPECT_EQ(reason.value_or(""),
            "the hello names pid " + std::to_string(other.pid()) + ", but the peer is pid " + std::to_string(rank.pid()));
}

TEST(PeerIdentity, AProcessWithoutTheJobsTokenIsAnImpostor) {
  FakeRank stranger({{"LAZARUS_LAUNCHER_TOKEN", "another-job"}, {"OMPI_COMM_WORLD_RANK", "0"}});
  EXPECT_EQ(impostor_reason(credentials_of(stranger.pid()), hello(0, stranger.pid()), kToken).value_or(""),
            "the peer process was not started by this job");
}

TEST(PeerIdentity, APeerOfAnotherUserIsAnImpostor) {
  FakeRank rank({{"LAZARUS_LAUNCHER_TOKEN", kToken}, {"OMPI_COMM_WORLD_RANK", "0"}});
  const PeerCredentials other_user{rank.pid(), ::geteuid() + 1};
  EXPECT_EQ(impostor_reason(other_user, hello(0, rank.pid()), kToken).value_or(""),
            "the peer runs as user " + std::to_string(::geteuid() + 1) + ", not as the launcher's user");
}

TEST(PeerIdentity, StartedByJobOnlyWhileTheProcessLives) {
  FakeRank rank({{"LAZARUS_LAUNCHER_TOKEN", kToken}, {"OMPI_COMM_WORLD_RANK", "0"}});
  EXPECT_TRUE(started_by_job(rank.pid(), kToken));
  EXPECT_FALSE(started_by_job(rank.pid(), "another-job"));
  EXPECT_FALSE(started_by_job(::getpid(), kToken));  // this test was not started by the job
  const pid_t pid = rank.pid();
  rank.kill();
  EXPECT_FALSE(started_by_job(pid, kToken));
}

}  // namespace
}  // namespace lazarus::launcher
