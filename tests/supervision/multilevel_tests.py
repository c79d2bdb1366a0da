"""Multi-level checkpoints under `lazarus run` on heat2d: a lost logical node's files are rebuilt on
its spare from partner copies or XOR parity; two lost nodes of one partner pair fall back to the
global level; the newest node-local version reaches the global level when the launcher gives up.
Usage: multilevel_tests.py LAZARUS HEAT2D MPIEXEC CASE"""
import subprocess
import sys

from harness import check, checksum_in, lazarus_run, main, reference_checksum

STEPS = 9000  # checkpoints every 100 steps: versions 1 to 90


def finished_bit_exact(setup, run, ranks):
    check(run.returncode == 0, f"the job did not finish\n{run.explain()}")
    expected = reference_checksum(setup, STEPS, ranks=ranks)
    check(checksum_in(run.stdout) == expected, f"checksum differs from the uninterrupted run's {expected}\n{run.explain()}")


def resumed_in(run, attempt):
    resumed = [e for e in run.of("resumed") if e["attempt"] == attempt]
    check(resumed, f"attempt {attempt} did not resume\n{run.explain()}")
    return resumed[0]


def global_versions(setup, job):
    """Versions complete at the global level (a manifest in place)."""
    return sorted(int(m.parent.name[1:]) for m in (setup.work / job).glob("v*/manifest.json"))


def node_loss_rebuilds_from_partner_copies(setup):
    # The global level only gets a copy every 1000 versions: the restart must come from the nodes.
    run = lazarus_run(setup, "partner", ["-n", "4", "--local-nodes", "3", "--ranks-per-node", "2", "--spares", "1",
                                         "--inject", "kill node=n1 after-checkpoint=20"], steps=STEPS,
                      env={"LAZARUS_FLUSH_EVERY": "1000"})
    finished_bit_exact(setup, run, 4)
    resumed = resumed_in(run, 2)
    check(resumed["level"] == "local" and resumed["version"] >= 20, f"not restored from the local level: {resumed}")
    for rank in (0, 1):  # n1's ranks, now on the spare n3
        check(f"rank {rank}: partner copy from node n2" in resumed["detail"], f"rank {rank} not rebuilt: {resumed}")
    # The session's end copied the last version to the global level.
    newest = max(e["version"] for e in run.of("checkpoint"))
    check(newest in global_versions(setup, "partner"), f"version {newest} is not at the global level")


def node_loss_rebuilds_from_xor_parity(setup):
    run = lazarus_run(setup, "xor", ["-n", "6", "--local-nodes", "4", "--ranks-per-node", "2", "--spares", "1",
                                     "--inject", "kill node=n2 after-checkpoint=20"], steps=STEPS,
                      env={"LAZARUS_FLUSH_EVERY": "1000", "LAZARUS_REDUNDANCY": "xor", "LAZARUS_XOR_GROUP": "3"})
    finished_bit_exact(setup, run, 6)
    resumed = resumed_in(run, 2)
    check(resumed["level"] == "local", f"not restored from the local level: {resumed}")
    for rank in (2, 3):  # n2's ranks, now on the spare n4
        check(f"rank {rank}: rebuilt from XOR parity" in resumed["detail"], f"rank {rank} not rebuilt: {resumed}")


def two_lost_partners_fall_back_to_global(setup):
    # Partners n1 -> n2 -> n3 -> n1: with n1 and n2 lost, rank 0's file and its copy are both gone.
    run = lazarus_run(setup, "twolost", ["-n", "6", "--local-nodes", "5", "--ranks-per-node", "2", "--spares", "2",
                                         "--inject", "kill node=n1 after-checkpoint=25",
                                         "--inject", "kill node=n2 after-checkpoint=25"], steps=STEPS,
                      env={"LAZARUS_FLUSH_EVERY": "10"})
    finished_bit_exact(setup, run, 6)
    check(len(run.of("node_lost")) == 2, f"expected two lost nodes: {run.of('node_lost')}")
    resumed = resumed_in(run, 2)
    check(resumed["level"] == "global" and resumed["version"] == 20, f"not restored from global version 20: {resumed}")
    check("could not be rebuilt" in resumed["detail"], f"no report of the lost local versions: {resumed}")


def scavenge_saves_the_newest_local_version(setup):
    run = lazarus_run(setup, "scavenge", ["-n", "4", "--local-nodes", "2", "--ranks-per-node", "2",
                                          "--max-restarts", "0", "--inject", "kill rank=1 after-checkpoint=15"],
                      steps=STEPS, env={"LAZARUS_FLUSH_EVERY": "1000"})
    check(run.returncode == 3, f"expected exit 3 (restarts exhausted)\n{run.explain()}")
    scavenge = run.of("scavenge")
    check(scavenge and scavenge[0]["version"] >= 15, f"nothing scavenged: {scavenge}\n{run.explain()}")
    check(scavenge[0]["version"] in global_versions(setup, "scavenge"), "the scavenged version is not complete")
    out = subprocess.run([setup.lazarus, "verify", str(setup.work), "--job", "scavenge", "--version",
                          str(scavenge[0]["version"])], capture_output=True, text=True)
    check(out.returncode == 0, f"the scavenged version does not verify: {out.stdout}{out.stderr}")


CASES = {f.__name__: f for f in [node_loss_rebuilds_from_partner_copies, node_loss_rebuilds_from_xor_parity,
                                 two_lost_partners_fall_back_to_global, scavenge_saves_the_newest_local_version]}

if __name__ == "__main__":
    sys.exit(main(CASES))
