#!/usr/bin/env python3
"""Recovery benchmark: time from the SIGKILL of a rank to (a) the launcher's detection, (b) the
relaunch, (c) the application resuming after its restore, for a 4-rank heat2d under `lazarus run`
holding about 256 MiB of field per rank. Prints one JSON document.

usage: recovery_bench.py LAZARUS HEAT2D [--runs 3] [--n 11584] [--dir DIR]"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def one_run(args, index):
    work = Path(tempfile.mkdtemp(prefix="lazarus-recovery-", dir=args.dir))
    try:
        env = dict(os.environ, LAZARUS_VERBOSE="1")
        command = [args.lazarus, "run", "-n", "4", "--local-nodes", "2", "--ranks-per-node", "2", "--dir", str(work),
                   "--job", "recovery", "--hang-timeout", "600", "--inject", "kill rank=2 after-checkpoint=1", "--",
                   args.heat2d, "--n", str(args.n), "--steps", str(args.steps), "--checkpoint-every", str(args.every)]
        out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
        if out.returncode != 0:
            sys.exit(f"run {index} failed ({out.returncode}):\n{out.stderr[-3000:]}")
        events = [json.loads(line) for line in (work / "recovery" / "events.jsonl").read_text().splitlines()]
        by = lambda kind: [e for e in events if e["event"] == kind]
        fault = by("fault_injected")[0]
        failure = by("failure")[0]
        relaunch = [e for e in by("launch") if e["attempt"] == 2][0]
        resumed = [e for e in by("resumed") if e["attempt"] == 2][0]
        # The application's own restore time (rank 0's LAZARUS_VERBOSE line) of the second attempt.
        restores = [float(x) for x in re.findall(r"restored checkpoint version \d+ in ([0-9.]+) s", out.stderr)]
        restore_seconds = restores[-1] if restores else None
        kill_to_resumed = resumed["elapsed_s"] - fault["elapsed_s"]
        return {
            "detection_s": failure["detection_latency_s"],
            "kill_to_relaunch_s": relaunch["elapsed_s"] - fault["elapsed_s"],
            "kill_to_resumed_s": kill_to_resumed,
            "restore_s": restore_seconds,
            "kill_to_resumed_minus_restore_s": kill_to_resumed - restore_seconds if restore_seconds else None,
            "teardown_s": by("teardown")[0]["seconds"],
            "state_bytes_per_rank": ((args.n // 2) + 2) ** 2 * 8,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lazarus")
    parser.add_argument("heat2d")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--n", type=int, default=11584, help="global grid: (n/2+2)^2 doubles per rank, 256 MiB")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--dir", default=".", help="where checkpoints go (a real disk, not tmpfs)")
    args = parser.parse_args()
    runs = [one_run(args, i) for i in range(args.runs)]
    median = {key: statistics.median(r[key] for r in runs) for key in runs[0] if runs[0][key] is not None}
    print(json.dumps({
        "benchmark": "recovery",
        "machine": {"host": platform.node(), "cpus": os.cpu_count()},
        "ranks": 4, "grid": args.n, "runs": runs, "median": median,
        "targets": {"detection_s": 0.5, "kill_to_resumed_minus_restore_s": 2.0},
        "meets": {"detection": median["detection_s"] <= 0.5,
                  "resume": median.get("kill_to_resumed_minus_restore_s", 99) <= 2.0},
    }, indent=2))


if __name__ == "__main__":
    main()
