#!/usr/bin/env python3
"""What asynchronous checkpoints cost an application: heat2d's total run time with an async checkpoint
every N steps against the same run without checkpoints. The background work (compression, writing,
fsync) runs on the application's cores, so whatever it takes from them shows up here. Prints one
JSON document.

Per repetition the runs are made back to back, rotating which goes first; each gets a fresh
LAZARUS_DIR (a temporary folder under --dir, removed afterwards, outside the timing), a sync() and
--settle seconds of quiet before it. Both runs use LAZARUS_MODE=async and the same grid and steps;
they differ only in --checkpoint-every (0 = never). Every run must print the same `checksum:` line.
With --with-sync, each repetition also runs heat2d with a synchronous checkpoint every N steps
(LAZARUS_MODE=sync), for reference: the same checkpoints, with the application waiting for each.

usage: heat2d_overhead.py HEAT2D [--reps 3] [--np 2] [--n 4096] [--steps 500] [--every 50]
                                 [--dir lazarus-bench] [--settle 1] [--mpirun mpirun] [--with-sync]

As root, Open MPI needs OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 in the environment
(and OMPI_MCA_rmaps_base_oversubscribe=1 where there are fewer cores than ranks)."""
import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_run(args, checkpoint_every, label, mode="async"):
    """One heat2d job; returns its figures. The temporary checkpoint folder is removed afterwards."""
    work = Path(tempfile.mkdtemp(prefix="heat2d-overhead-", dir=args.dir))
    try:
        env = dict(os.environ, LAZARUS_DIR=str(work), LAZARUS_JOB="heat2d", LAZARUS_MODE=mode, LAZARUS_VERBOSE="1")
        command = [args.mpirun, "-np", str(args.np), args.heat2d, "--n", str(args.n), "--steps", str(args.steps),
                   "--checkpoint-every", str(checkpoint_every)]
        os.sync()
        time.sleep(args.settle)
        cpu_before = child_cpu_seconds()
        start = time.monotonic()
        out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
        wall = time.monotonic() - start
        cpu = child_cpu_seconds() - cpu_before
        if out.returncode != 0:
            sys.exit(f"{label} run failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
        checksum = re.findall(r"^checksum: ([0-9a-f]+)$", out.stdout, re.M)
        loop = re.findall(r"^done: \d+ steps in this run \(\d+ to \d+\) in ([0-9.]+) s$", out.stdout, re.M)
        if len(checksum) != 1 or len(loop) != 1:
            sys.exit(f"{label} run: no checksum or done line in its output:\n{out.stdout[-2000:]}")
        if "resumed from checkpoint" in out.stdout:
            sys.exit(f"{label} run resumed from a checkpoint: the folder {work} was not fresh")
        checkpoints = len(re.findall(r"^checkpoint version \d+ at step \d+$", out.stdout, re.M))
        # Rank 0's LAZARUS_VERBOSE lines: how long each checkpoint() blocked, and the size of each version.
        staged = [float(x) for x in re.findall(r"checkpoint version \d+ staged in ([0-9.]+) s", out.stderr)]
        sizes = re.findall(r"committed: ([0-9.]+) MiB on rank 0 \(([0-9.]+) MiB on disk\) in ([0-9.]+) s", out.stderr)
        return {"wall_s": wall, "loop_s": float(loop[0]), "cpu_s": cpu, "checksum": checksum[0],
                "checkpoints": checkpoints, "staged_s": staged, "commit_s": [float(x[2]) for x in sizes],
                "protected_mib_rank0": float(sizes[-1][0]) if sizes else None,
                "file_mib_rank0": float(sizes[-1][1]) if sizes else None}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def first_line(command):
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=60)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


def filesystem_of(path):
    target = os.path.realpath(path)
    best, best_mount = "unknown", ""
    try:
        with open("/proc/self/mounts") as mounts:
            for line in mounts:
                device, mount_point, kind = line.split()[:3]
                under = target == mount_point or mount_point == "/" or target.startswith(mount_point.rstrip("/") + "/")
                if under and len(mount_point) >= len(best_mount):
                    best_mount, best = mount_point, f"{device} on {mount_point} ({kind})"
    except OSError:
        pass
    return best


def machine(args):
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    repo = Path(__file__).resolve().parent.parent
    return {"hostname": platform.node(), "kernel": f"{platform.system()} {platform.release()}",
            "nproc": os.cpu_count(), "memory_gib": memory, "load_average_1_5_15min": list(os.getloadavg()),
            "filesystem": filesystem_of(args.dir), "mpi": first_line([args.mpirun, "--version"]),
            "python": platform.python_version(),
            "git_commit": first_line(["git", "-C", str(repo), "describe", "--always", "--dirty", "--abbrev=12"])}


def ratio_of(a, b):
    return a / b if b > 0 else None


def summary(runs):
    walls = [r["wall_s"] for r in runs]
    loops = [r["loop_s"] for r in runs]
    cpus = [r["cpu_s"] for r in runs]
    return {"total_s": {"median": statistics.median(walls), "min": min(walls), "all": walls},
            "loop_s": {"median": statistics.median(loops), "min": min(loops), "all": loops},
            "cpu_s": {"median": statistics.median(cpus), "all": cpus}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("heat2d", help="the heat2d binary, e.g. build-bench/examples/heat2d/heat2d")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (each: one run without, one with checkpoints)")
    parser.add_argument("--np", type=int, default=2, help="MPI ranks")
    parser.add_argument("--n", type=int, default=4096, help="global grid N (each of 2 ranks protects about N*N*4 bytes)")
    parser.add_argument("--steps", type=int, default=500, help="time steps of each run")
    parser.add_argument("--every", type=int, default=50, help="an async checkpoint every this many steps")
    parser.add_argument("--dir", default="lazarus-bench",
                        help="folder for the temporary checkpoint folders (on the disk under test, not a tmpfs)")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds of quiet (after a sync) before each run")
    parser.add_argument("--mpirun", default="mpirun")
    parser.add_argument("--with-sync", action="store_true",
                        help="also run with a synchronous checkpoint every --every steps, for reference")
    args = parser.parse_args()
    if args.every <= 0 or args.reps <= 0:
        parser.error("--every and --reps must be positive")
    os.makedirs(args.dir, exist_ok=True)
    args.dir = os.path.abspath(args.dir)

    runs = {"none": [], "async": []}
    if args.with_sync:
        runs["sync"] = []
    for rep in range(args.reps):
        order = [("none", 0, "async"), ("async", args.every, "async")]
        if args.with_sync:
            order.append(("sync", args.every, "sync"))
        shift = rep % len(order)  # rotating, so that each kind of run goes first as often as the others
        for label, every, mode in order[shift:] + order[:shift]:
            runs[label].append(one_run(args, every, label, mode))
    checksums = {r["checksum"] for label in runs for r in runs[label]}
    if len(checksums) != 1:
        sys.exit(f"the runs ended with different checksums: {sorted(checksums)}")
    counts = {r["checkpoints"] for r in runs["async"] + runs.get("sync", [])}
    if any(r["checkpoints"] for r in runs["none"]) or len(counts) != 1 or 0 in counts:
        sys.exit(f"unexpected checkpoint counts: {[r['checkpoints'] for r in runs['none']]} without, {sorted(counts)} with")
    checkpoints = counts.pop()

    none, with_async = summary(runs["none"]), summary(runs["async"])
    staged = [s for r in runs["async"] for s in r["staged_s"]]
    # Async: each version is committed inside the next checkpoint() (or at the Session's end), so
    # every checkpoint() but the first also pays for its predecessor's commit.
    commits = [s for r in runs["async"] for s in r["commit_s"]]
    report = {
        "benchmark": "heat2d_overhead",
        "machine": machine(args),
        "run": {"heat2d": args.heat2d, "ranks": args.np, "n": args.n, "steps": args.steps,
                "checkpoint_every": args.every, "checkpoints_per_run": checkpoints, "reps": args.reps,
                "protected_mib_rank0": runs["async"][-1]["protected_mib_rank0"],
                "file_mib_rank0": runs["async"][-1]["file_mib_rank0"],
                "dir": args.dir, "settle_s_before_each_run": args.settle,
                "env": {"LAZARUS_MODE": "async (sync for the sync_checkpoints runs)", "LAZARUS_VERBOSE": "1",
                        **{k: v for k, v in os.environ.items() if k.startswith("LAZARUS_") and k not in
                           ("LAZARUS_DIR", "LAZARUS_JOB", "LAZARUS_MODE", "LAZARUS_VERBOSE")}},
                "order": "each repetition runs none, async (and sync) in turn, rotated by one each repetition",
                "timing": "total_s: wall time of the whole mpirun (start-up, restore attempt, steps, the Session's end "
                          "which commits the last checkpoint, MPI_Finalize); loop_s: heat2d's own time of its step "
                          "loop (checkpoint() calls included, the final commit not; heat2d prints it to 0.01 s); cpu_s: user + system time of "
                          "mpirun and the ranks; medians over reps",
                "checksum": checksums.pop()},
        "no_checkpoints": none,
        "async_checkpoints": {**with_async,
                              "checkpoint_blocking_s_rank0": {"median": statistics.median(staged) if staged else None,
                                                              "all": staged},
                              "commit_s_rank0": {"median": statistics.median(commits) if commits else None,
                                                 "all": commits,
                                                 "note": "manifest, fsyncs and retention of each version, done by "
                                                         "the next checkpoint() (so part of its blocking time) or by "
                                                         "the Session's end"}},
        "ratios": {
            "total_time_ratio": ratio_of(with_async["total_s"]["median"], none["total_s"]["median"]),
            "loop_time_ratio": ratio_of(with_async["loop_s"]["median"], none["loop_s"]["median"]),
            "cpu_time_ratio": ratio_of(with_async["cpu_s"]["median"], none["cpu_s"]["median"]),
            "total_overhead_s_per_checkpoint":
                (with_async["total_s"]["median"] - none["total_s"]["median"]) / checkpoints,
            "basis": "median with async checkpoints / median without; overhead per checkpoint = difference of the "
                     "median total times / checkpoints per run"},
    }
    if args.with_sync:
        with_sync = summary(runs["sync"])
        report["sync_checkpoints"] = with_sync
        report["ratios"]["sync_total_time_ratio"] = ratio_of(with_sync["total_s"]["median"], none["total_s"]["median"])
        report["ratios"]["sync_total_overhead_s_per_checkpoint"] = \
            (with_sync["total_s"]["median"] - none["total_s"]["median"]) / checkpoints
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
