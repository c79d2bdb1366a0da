"""Asynchronous checkpoints under `lazarus run`: heat2d with LAZARUS_MODE=async, killed (a rank, then a
node) and relaunched, must finish bit-identical to an uninterrupted run.
Usage: async_tests.py LAZARUS HEAT2D MPIEXEC CASE"""
import sys

from harness import check, checksum_in, lazarus_run, main, reference_checksum

STEPS = 9000


def async_kills_stay_bit_exact(setup):
    run = lazarus_run(setup, "async", ["-n", "4", "--local-nodes", "3", "--ranks-per-node", "2", "--spares", "1",
                                       "--inject", "kill rank=2 after-checkpoint=15",
                                       "--inject", "kill node=n1 after-checkpoint=40"], steps=STEPS,
                      env={"LAZARUS_MODE": "async"})
    check(run.returncode == 0, f"the job did not finish\n{run.explain()}")
    expected = reference_checksum(setup, STEPS)
    check(checksum_in(run.stdout) == expected, f"checksum differs from the uninterrupted run's {expected}\n{run.explain()}")
    check(len(run.of("failure")) == 2, f"expected two failures: {run.of('failure')}")
    resumed = [e for e in run.of("resumed") if e["attempt"] > 1]
    check(len(resumed) == 2 and all(e["version"] > 0 for e in resumed), f"bad resumes: {resumed}")


CASES = {f.__name__: f for f in [async_kills_stay_bit_exact]}

if __name__ == "__main__":
    sys.exit(main(CASES))
