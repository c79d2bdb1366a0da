"""20 seeded random faults: 10 jobs of heat2d under `lazarus run`, each hit by two faults drawn from
rank kills, node kills, kills in the middle of a checkpoint write and kills during a restore. Every
job must finish bit-identical to an uninterrupted run, leave nothing behind, and its events file
must tell each failure. Usage: random_faults.py LAZARUS HEAT2D MPIEXEC twenty_random_faults [SEED]"""
import random
import sys

from harness import check, checksum_in, lazarus_run, main, reference_checksum

JOBS = 10
STEPS = 9000  # checkpoints every 100 steps: versions 1 to 89


def draw_faults(rng):
    """Two faults and what each should look like in the events."""
    hosting = ["n1", "n2"]
    first_version = rng.randint(5, 15)
    kind = rng.choice(["rank", "node", "write"])
    if kind == "rank":
        first = f"kill rank={rng.randrange(4)} after-checkpoint={first_version}"
    elif kind == "node":
        lost = rng.choice(hosting)
        hosting[hosting.index(lost)] = "n3"  # the first spare takes its place
        first = f"kill node={lost} after-checkpoint={first_version}"
    else:
        first = f"crash point=during_write rank={rng.randrange(4)} version={first_version} attempt=1"
    second_version = first_version + rng.randint(10, 20)
    kind = rng.choice(["rank", "node", "restore"])
    if kind == "rank":
        second = f"kill rank={rng.randrange(4)} after-checkpoint={second_version}"
    elif kind == "node":
        second = f"kill node={rng.choice(hosting)} after-checkpoint={second_version}"
    else:
        second = f"crash point=during_restore rank={rng.randrange(4)} attempt=2"
    return [first, second]


def twenty_random_faults(setup):
    seed = int(setup.extra[1]) if len(setup.extra) > 1 else 2026
    rng = random.Random(seed)
    expected = reference_checksum(setup, STEPS)
    for job in range(JOBS):
        faults = draw_faults(rng)
        options = ["-n", "4", "--local-nodes", "4", "--ranks-per-node", "2", "--spares", "2"]
        for fault in faults:
            options += ["--inject", fault]
        run = lazarus_run(setup, f"random{job}", options, steps=STEPS)
        context = f"job {job} (seed {seed}) with faults {faults}"
        check(run.returncode == 0, f"{context} did not finish\n{run.explain()}")
        got = checksum_in(run.stdout)
        check(got == expected, f"{context}: checksum {got}, uninterrupted run {expected}\n{run.explain()}")
        failures = run.of("failure")
        check(len(failures) == 2, f"{context}: {len(failures)} failures in the events, expected 2: {failures}")
        check(len(run.of("restart")) == 2 and len(run.of("launch")) == 3, f"{context}: expected 2 restarts")
        for fault, failure in zip(faults, failures):
            if fault.startswith("crash") or fault.startswith("kill rank"):
                rank = int(fault.split("rank=")[1].split()[0])
                check(failure["rank"] == rank, f"{context}: failure {failure} does not name rank {rank}")
        lost = [f.split("node=")[1].split()[0] for f in faults if f.startswith("kill node")]
        check([e["node"] for e in run.of("node_lost")] == lost, f"{context}: node_lost events {run.of('node_lost')}")
        print(f"job {job}: {faults} -> finished in {run.duration:.1f} s, checksum {got}")


if __name__ == "__main__":
    sys.exit(main({"twenty_random_faults": twenty_random_faults}))
