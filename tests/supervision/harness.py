"""Helpers for the `lazarus run` tests: run the launcher on heat2d, read its events, check that
nothing is left behind. Standard library only; run with python3."""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


class TestFailure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise TestFailure(message)


class Setup:
    """Paths handed over by CTest: lazarus, heat2d, mpiexec."""

    def __init__(self, argv):
        if len(argv) < 4:
            sys.exit(f"usage: {argv[0]} LAZARUS HEAT2D MPIEXEC [ARGS...]")
        self.lazarus, self.heat2d, self.mpiexec = argv[1:4]
        self.extra = argv[4:]
        self.work = Path(tempfile.mkdtemp(prefix="lazarus-supervision-"))

    def cleanup(self):
        subprocess.run(["rm", "-rf", str(self.work)], check=False)


HEAT2D_ARGS = ["--n", "256", "--checkpoint-every", "100"]


def reference_checksum(setup, steps, ranks=4, program=None, job=None):
    """The checksum of an uninterrupted run without the launcher: heat2d with HEAT2D_ARGS, or `program`
    (a command that ends by printing `checksum: ...`) in job `job` of the work folder's `reference`."""
    # Its shared-memory segments stay in the work folder, out of the /dev/shm check of the launcher runs.
    env = dict(os.environ, OMPI_MCA_btl_vader_backing_directory=str(setup.work),
               LAZARUS_DIR=str(setup.work / "reference"), LAZARUS_JOB=job or f"ref{steps}")
    program = program or [setup.heat2d, *HEAT2D_ARGS, "--steps", str(steps)]
    out = subprocess.run([setup.mpiexec, "-n", str(ranks), *program],
                         capture_output=True, text=True, timeout=300, env=env)
    check(out.returncode == 0, f"reference run failed: {out.stderr[-2000:]}")
    return checksum_in(out.stdout)


def checksum_in(text):
    found = re.findall(r"^checksum: ([0-9a-f]{16})$", text, re.M)
    return found[-1] if found else None


class Run:
    def __init__(self, returncode, stdout, stderr, events, duration):
        self.returncode, self.stdout, self.stderr, self.events, self.duration = returncode, stdout, stderr, events, duration

    def of(self, kind):
        return [e for e in self.events if e["event"] == kind]

    def explain(self):
        return f"exit {self.returncode}\n--- stderr (tail)\n{self.stderr[-3000:]}"


def shm_entries():
    return {p.name for p in Path("/dev/shm").iterdir()}


def read_events(events_file):
    """The JSON events of a `lazarus run` events file, oldest first (none when it does not exist). Safe
    while the launcher writes: a last line without its newline yet is left for the next read."""
    if not events_file.exists():
        return []
    complete = events_file.read_text().split("\n")[:-1]
    return [json.loads(line) for line in complete if line.strip()]


def lazarus_run(setup, job, options, program=None, steps=6000, timeout=600, env=None, root=None):
    """Runs `lazarus run OPTIONS -- heat2d ...` for a job of its own; returns a Run. `env`: variables
    added to the environment (LAZARUS_REDUNDANCY, ...). `root`: the checkpoint root (`--dir`), the work
    folder by default; the events file stays in the work folder's job folder either way."""
    events_file = setup.work / job / "events.jsonl"
    program = program or [setup.heat2d, *HEAT2D_ARGS, "--steps", str(steps)]
    where = ["--dir", str(root or setup.work)] + (["--events", str(events_file)] if root else [])
    command = [setup.lazarus, "run", *where, "--job", job, *options, "--", *program]
    shm_before = shm_entries()
    start = time.monotonic()
    out = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=dict(os.environ, **(env or {})))
    duration = time.monotonic() - start
    run = Run(out.returncode, out.stdout, out.stderr, read_events(events_file), duration)
    check_nothing_left(setup, job, shm_before, run, root)
    return run


def environment_of_job(job):
    """The start-up environment of a live process of job `job` that has the launcher's token (the job's
    secrets included: the tests run as the job's user), or None."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            items = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        environment = dict(item.decode(errors="replace").split("=", 1) for item in items if b"=" in item)
        if environment.get("LAZARUS_JOB") == job and "LAZARUS_LAUNCHER_TOKEN" in environment:
            return environment
    return None


def processes_of_job(job_dir):
    """Live processes whose environment names this job's checkpoint folder and job."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state = stat[stat.rfind(")") + 2:].split()[0]
        if state in ("Z", "X"):
            continue
        if f"LAZARUS_JOB={job_dir.name}".encode() in environ and f"LAZARUS_DIR={job_dir.parent}".encode() in environ:
            found.append(int(entry.name))
    return found


def check_nothing_left(setup, job, shm_before, run, root=None):
    left = processes_of_job((root or setup.work) / job)
    check(not left, f"processes of job {job} left behind: {left}\n{run.explain()}")
    for launch in run.of("launch"):
        check(not Path(launch["shm_dir"]).exists(), f"attempt {launch['attempt']} left {launch['shm_dir']}")
    # Open MPI segments outside the attempt folders (the suite runs one job at a time). A segment that a
    # live process maps belongs to another MPI job running meanwhile (this job's processes are all gone,
    # checked above): only one that no process maps, still there a second later, was left behind.
    new_shm = unmapped_shm_files(sorted(e for e in shm_entries() - shm_before if e.startswith("vader_segment")))
    if new_shm:
        time.sleep(1.0)
        new_shm = unmapped_shm_files(new_shm)
    check(not new_shm, f"/dev/shm entries left behind: {new_shm}\n{run.explain()}")


def unmapped_shm_files(names):
    """Those of the /dev/shm files `names` that still exist and that no live process has mapped."""
    if not names:
        return []
    mapped = set()
    for maps in Path("/proc").glob("[0-9]*/maps"):
        try:
            text = maps.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if " /dev/shm/" in line:
                mapped.add(line.split(" /dev/shm/", 1)[1].removesuffix(" (deleted)"))
    return [name for name in names if name not in mapped and (Path("/dev/shm") / name).exists()]


def main(cases):
    """Runs the case named by argv[4] (or every case), reporting PASS/FAIL."""
    setup = Setup(sys.argv)
    names = setup.extra[:1] or list(cases)
    try:
        for name in names:
            cases[name](setup)
            print(f"PASS {name}")
    except TestFailure as failure:
        print(f"FAIL {names}: {failure}", file=sys.stderr)
        return 1
    finally:
        setup.cleanup()
    return 0
