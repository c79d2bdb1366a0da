"""`lazarus run` inside a real Slurm allocation, on a Slurm cluster started on this machine for each
case (slurm_cluster.py): the sbatch example survives a node's death on its spare inside the same job,
stops with a final checkpoint before the time limit and continues when submitted again, and a job
that needs more nodes than the allocation has is refused clearly. No process is left behind.
Usage: slurm_tests.py LAZARUS HEAT2D MPIEXEC EXPAND_HOSTLIST EXAMPLE_SBATCH CASE"""
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "supervision"))
from harness import check, checksum_in, processes_of_job, read_events, reference_checksum  # noqa: E402
from harness import Setup, TestFailure  # noqa: E402
from slurm_cluster import SlurmCluster  # noqa: E402

HEAT2D_ARGS = "--n 256 --checkpoint-every 100"


class Job:
    """One submission of the sbatch example, and what it left: output, events."""

    def __init__(self, cluster, setup, name, sbatch_args, steps, pause_ms, stop_before=120):
        self.cluster, self.setup, self.name = cluster, setup, name
        self.output = setup.work / f"{name}.out"
        self.checkpoints = setup.work / "ckpt"
        self.events_file = self.checkpoints / "default" / "events.jsonl"
        self.env = {"LAZARUS": setup.lazarus, "HEAT2D": setup.heat2d,
                    "HEAT2D_ARGS": f"{HEAT2D_ARGS} --steps {steps} --pause-ms {pause_ms}",
                    "CHECKPOINTS": str(self.checkpoints), "LOCAL_ROOT": str(cluster.root / "tmpfs"),
                    "STOP_BEFORE": str(stop_before)}
        self.id = cluster.sbatch([*sbatch_args, f"--output={self.output}", setup.example], extra_env=self.env)
        self.first_event = len(read_events(self.events_file))

    def events(self, kind=None):
        """This submission's events (the events file keeps every run of the job)."""
        mine = read_events(self.events_file)[self.first_event:]
        return [e for e in mine if kind is None or e["event"] == kind]

    def wait_for(self, predicate, what, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            check(self.cluster.job_state(self.id) in ("PENDING", "RUNNING", "CONFIGURING"),
                  f"job {self.id} ended before {what}\n{self.explain()}")
            time.sleep(0.2)
        raise TestFailure(f"no {what} within {timeout} s\n{self.explain()}")

    def finish(self, timeout=300):
        self.state = self.cluster.wait_job(self.id, timeout)
        self.exit_code = self.cluster.job_field(self.id, "ExitCode")
        self.text = self.output.read_text() if self.output.exists() else ""
        left = processes_of_job(self.checkpoints / "default")
        check(not left, f"job {self.id} left processes behind: {left}\n{self.explain()}")
        return self

    def explain(self):
        text = self.output.read_text() if self.output.exists() else "(no output)"
        lines = [line for line in text.splitlines() if not line.startswith("checkpoint version")]
        return f"--- job {self.id} output (tail)\n" + "\n".join(lines[-60:])


def hostlist_matches_scontrol(setup, cluster):
    for expression in ["n[1-3,7],gpu[01-04]", "node[098-101]", "n[01-3]", "r[1-2]n[3,5]", "a,b[1-2]",
                       "c[8-10],d", "n[1-2],n[2]"]:
        ours = subprocess.run([setup.expand_hostlist, expression], capture_output=True, text=True, check=True)
        theirs = cluster.command(["scontrol", "show", "hostnames", expression])
        check(ours.stdout.split() == theirs.stdout.split(),
              f"'{expression}': ours {ours.stdout.split()}, scontrol {theirs.stdout.split()}")


def node_loss_finishes_on_the_spare(setup, cluster):
    steps = 3000
    job = Job(cluster, setup, "nodeloss", ["--time=10"], steps=steps, pause_ms=5)
    job.wait_for(lambda: any(e["version"] >= 5 for e in job.events("checkpoint")), "checkpoint version 5")
    launch = job.events("launch")[0]
    check(launch["launcher"] == "srun" and launch["slurm_job"] == str(job.id), f"not an srun step of the job: {launch}")
    allocated = cluster.command(["scontrol", "show", "hostnames", cluster.job_field(job.id, "NodeList")]).stdout.split()
    check(launch["nodes"] == allocated[:2], f"hosting nodes {launch['nodes']} are not the first two of {allocated}")
    # Kill a hosting node other than the one running the batch script (and so the launcher).
    batch_host = cluster.job_field(job.id, "BatchHost")
    victim = next(node for node in launch["nodes"] if node != batch_host)
    cluster.kill_node(victim)
    job.finish()
    # COMPLETING: Slurm waits for the dead node until SlurmdTimeout (300 s here); the script is done.
    check(job.state in ("COMPLETED", "COMPLETING") and job.exit_code == "0:0",
          f"job {job.id} ended {job.state} ({job.exit_code})\n{job.explain()}")
    lost = job.events("node_lost")
    check(len(lost) == 1 and lost[0]["node"] == victim and lost[0]["spare"] == allocated[2],
          f"expected {victim} replaced by {allocated[2]}: {lost}\n{job.explain()}")
    relaunch = [e for e in job.events("launch") if e["attempt"] == 2]
    check(relaunch and victim not in relaunch[0]["nodes"] and allocated[2] in relaunch[0]["nodes"]
          and relaunch[0]["slurm_job"] == str(job.id), f"attempt 2 not on the spare in job {job.id}: {relaunch}")
    restart = job.events("restart")
    check(restart and restart[0]["version"] >= 5, f"the restart does not name the newest version: {restart}")
    resumed = [e for e in job.events("resumed") if e["attempt"] == 2]
    check(resumed and resumed[0]["version"] >= 5, f"attempt 2 did not resume from version 5 or newer: {resumed}")
    check(resumed[0].get("level") == "local" and "partner copy" in resumed[0].get("detail", ""),
          f"the lost node's files were not rebuilt from partner copies: {resumed[0]}")
    summary = job.events("summary")[-1]
    check(summary["outcome"] == "finished" and summary["exit_status"] == 0, f"summary: {summary}")
    expected = reference_checksum(setup, steps, ranks=4)
    check(checksum_in(job.text) == expected, f"checksum differs from the uninterrupted run's {expected}\n{job.explain()}")


def time_limit_stops_and_resubmission_continues(setup, cluster):
    steps = 4000
    # One minute of allocation: heat2d (10 ms per step, 40 s in all) is asked to stop 40 s before its end.
    first = Job(cluster, setup, "limited", ["--time=1"], steps=steps, pause_ms=10, stop_before=40).finish(timeout=120)
    check(first.exit_code == "6:0", f"expected exit status 6 (stopped), got {first.state} {first.exit_code}\n"
                                    f"{first.explain()}")
    for kind in ("time_limit", "stop_requested", "stopping", "stopped"):
        check(first.events(kind), f"no {kind} event\n{first.explain()}")
    stopped = re.search(r"^stopping at step (\d+) on the launcher's request \(final checkpoint version (\d+)\)$",
                        first.text, re.M)
    check(stopped and 0 < int(stopped[1]) < steps, f"heat2d did not stop early with a checkpoint\n{first.explain()}")
    check(checksum_in(first.text) is None, "the stopped job printed a final checksum")
    version = int(stopped[2])
    final = first.events("stopped")[-1]
    check(final["global_version"] == version == final["newest_version"], f"stopped event: {final}")
    check((first.checkpoints / "default" / f"v{version:010d}" / "manifest.json").exists(),
          f"the final version {version} is not complete at the global level")

    second = Job(cluster, setup, "resubmitted", ["--time=10"], steps=steps, pause_ms=0).finish()
    check(second.state == "COMPLETED", f"the resubmitted job ended {second.state}\n{second.explain()}")
    check(f"resumed from checkpoint version {version} at step {stopped[1]}" in second.text,
          f"the resubmitted job did not continue from version {version}\n{second.explain()}")
    expected = reference_checksum(setup, steps, ranks=4)
    check(checksum_in(second.text) == expected, f"checksum differs from the uninterrupted run's {expected}\n"
                                                f"{second.explain()}")


def too_many_nodes_is_a_clear_error(setup, cluster):
    # The example asks for 2 ranks per node and a spare; an allocation of one node has none to run on.
    job = Job(cluster, setup, "toosmall", ["--nodes=1"], steps=100, pause_ms=0).finish(timeout=60)
    check(job.exit_code == "2:0", f"expected exit status 2, got {job.state} {job.exit_code}\n{job.explain()}")
    check(f"Slurm job {job.id} has 1 node (n1)" in job.text and "--spares 1" in job.text,
          f"the error does not explain the allocation\n{job.explain()}")
    # Explicitly more ranks than the allocation's nodes can take.
    out = subprocess.run(["srun", "--version"], capture_output=True, text=True, env=cluster.env())
    check(out.returncode == 0, f"srun does not run: {out.stderr}")
    wrapped = cluster.sbatch(["--nodes=2", "--ntasks-per-node=2", f"--output={setup.work / 'eight.out'}", "--wrap",
                              f"{setup.lazarus} run -n 8 --dir {setup.work / 'ckpt8'} -- {setup.heat2d} --steps 10"])
    cluster.wait_job(wrapped, 60)
    text = (setup.work / "eight.out").read_text()
    check(cluster.job_field(wrapped, "ExitCode") == "2:0", f"expected exit status 2\n{text}")
    check("8 ranks at 2 per node need 4 nodes" in text and f"Slurm job {wrapped} has 2 nodes (n[1-2])" in text,
          f"unclear error:\n{text}")


CASES = {f.__name__: f for f in (hostlist_matches_scontrol, node_loss_finishes_on_the_spare,
                                 time_limit_stops_and_resubmission_continues, too_many_nodes_is_a_clear_error)}


def main():
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    setup = Setup([sys.argv[0], sys.argv[1], sys.argv[2], sys.argv[3]])
    setup.expand_hostlist, setup.example, name = sys.argv[4], sys.argv[5], sys.argv[6]
    cluster = SlurmCluster(setup.work / "cluster", nodes=4)
    status = 0
    try:
        cluster.start()
        CASES[name](setup, cluster)
        print(f"PASS {name}")
    except TestFailure as failure:
        print(f"FAIL {name}: {failure}", file=sys.stderr)
        status = 1
    finally:
        survivors = cluster.stop()  # also after a failure: no daemon or job process may stay
        if survivors:
            print(f"FAIL {name}: processes survived the cluster's stop: {survivors}", file=sys.stderr)
            status = 1
        setup.cleanup()
    return status


if __name__ == "__main__":
    sys.exit(main())
