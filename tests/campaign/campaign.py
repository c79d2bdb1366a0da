"""Fault campaign: seeded runs of heat2d and many_regions under `lazarus run`, each hit by one to four
faults, each checked end to end. docs/testing.md ("Fault campaign") describes it.

Usage: campaign.py LAZARUS HEAT2D MANY_REGIONS MPIEXEC [--seed S] [--runs N] [--first I] [--keep]

Run I of seed S is drawn from (S, I) alone: `--seed S --first I --runs 1` repeats it. Each run prints
its seed, index, configuration and faults, then its outcome; the campaign ends with a table of counts
by fault kind and outcome, and exits 1 when any run FAILED.

Faults (kinds):
  rank_kill      --inject "kill rank=R after-checkpoint=V"
  node_kill      --inject "kill node=N after-checkpoint=V" (logical nodes with a spare left)
  hang           --inject "stop rank=R after-checkpoint=V" (--heartbeat 0.2 --hang-timeout 3)
  crash_write    --inject "crash point=before_write|during_write|after_write rank=R version=V attempt=A"
  crash_commit   --inject "crash point=during_commit|after_commit ..." (during_commit: a rank that publishes)
  crash_flush    --inject "crash point=during_flush|during_flush_commit|after_flush_commit ..." (multi-level;
                 with LAZARUS_FLUSH_EVERY=1000, without version=: in the copy at the Session's end, after
                 the job printed its checksum: the next attempt restores the newest version, and its end
                 must copy it to the global level)
  crash_restore  --inject "crash point=during_restore rank=R attempt=A" (the attempt after a failure)
  crash_rebuild  --inject "crash point=during_rebuild|after_rebuild rank=R attempt=A" (after a node loss)
  full_fs        the checkpoint root is a 12 MiB tmpfs (tests/mpi/with_small_fs.sh), filled up once
                 checkpoint V is reported and kept full: the job must end with status 5 (no_progress)
  read_only      once the teardown of failure F is reported, the global level (the job folder and its
                 version folders) becomes immutable (chattr +i: root ignores permission bits): a
                 multi-level job finishes from its node-local level; a single-level job ends with status 5
  vanish         once the teardown of failure F is reported, the global level's version folders are
                 deleted
  corrupt        once the teardown of failure F is reported, one byte is flipped in every copy of rank
                 R's file of the newest complete version (global, node-local, partner copy): the restart
                 falls back to the version before (or rebuilds the file from XOR parity)

Other parties (issue 13), drawn apart from the faults (their own random stream, so that adding them left
every run's faults as they were), at most one of each per run:
  intruder       a process with the job's token (read from a rank's environment) sends, in each attempt,
                 a hello for a random rank naming the pid of a bystander process, over TCP and over the
                 launcher's Unix socket, and holds 100 idle TCP connections open: the bystander must
                 live, and no failure may come of it
  daemon         rank 0 runs inside a shell that, when the rank ends, leaves a daemon (setsid, then fork)
                 holding mpirun's output open: the run must still end as it would, with nothing left
"""
import argparse
import errno
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "supervision"))
from harness import (Setup, TestFailure, check, checksum_in, environment_of_job, lazarus_run, read_events,  # noqa: E402
                     reference_checksum)

STEPS = 2000
CHECKPOINT_EVERY = 40  # versions 1 to 49 in an uninterrupted run
# A millisecond's pause per step spreads a run over a few seconds, so that the launcher's events, and the
# harness faults that wait for them, keep up with the job on a loaded machine.
PACE = ["--pause-ms", "1"]
HEAT2D_ARGS = ["--n", "128", "--checkpoint-every", str(CHECKPOINT_EVERY), "--steps", str(STEPS)]
MANY_REGIONS_ARGS = ["--checkpoint-every", str(CHECKPOINT_EVERY), "--steps", str(STEPS)]
RANKS = 4
# A harness fault applied this long after the next attempt was launched may come after its ranks read
# their files (mpirun, MPI_Init and the Session come first: half a second or more on 2 cores).
LATE_MS = 150

KINDS = ["rank_kill", "node_kill", "hang", "crash_write", "crash_commit", "crash_flush", "crash_restore",
         "crash_rebuild", "full_fs", "read_only", "vanish", "corrupt"]
# Kinds that end an attempt by themselves; the others act between attempts or on the file system.
FAILING = ["rank_kill", "node_kill", "hang", "crash_write", "crash_commit", "crash_flush"]
OTHER_PARTIES = ["intruder", "daemon"]  # not faults: drawn beside them, counted in the table too
OUTCOMES = ["bit-identical", "documented status", "FAILED", "skipped"]

# Topologies: lazarus run's node options, the ranks' placement, and the node that hosts each rank's block.
TOPOLOGIES = {
    # many_regions --single-level: the global level only (logical nodes, so that a node can be lost).
    "single": {"options": ["--local-nodes", "3", "--ranks-per-node", "2", "--spares", "1"], "per_node": 2,
               "hosting": ["n1", "n2"], "spares": ["n3"]},
    # one logical node: the node-local level without redundancy, and the global level.
    "one_node": {"options": [], "per_node": 4, "hosting": ["n1"], "spares": []},
    "partner": {"options": ["--local-nodes", "4", "--ranks-per-node", "2", "--spares", "2"], "per_node": 2,
                "hosting": ["n1", "n2"], "spares": ["n3", "n4"]},
    "xor": {"options": ["--local-nodes", "6", "--ranks-per-node", "1", "--spares", "2"], "per_node": 1,
            "hosting": ["n1", "n2", "n3", "n4"], "spares": ["n5", "n6"], "env": {"LAZARUS_REDUNDANCY": "xor",
                                                                                 "LAZARUS_XOR_GROUP": "4"}},
}


@dataclass
class Fault:
    kind: str
    inject: str = ""        # the --inject text, for the launcher's faults
    failure: int = 0        # harness faults: applied when this failure (1-based) is reported
    version: int = 0        # full_fs: filled once this checkpoint is reported
    rank: int = -1          # corrupt: whose file
    detail: str = ""        # for the report

    def describe(self):
        if self.inject:
            return f"{self.kind}: {self.inject}"
        if self.kind == "full_fs":
            return f"full_fs: file system filled after checkpoint {self.version}"
        what = {"read_only": "global level made immutable", "vanish": "global level's versions deleted",
                "corrupt": f"a byte of rank {self.rank}'s newest file flipped in every copy"}[self.kind]
        return f"{self.kind}: {what} after failure {self.failure}"


@dataclass
class Plan:
    seed: int
    index: int
    program: str
    topology: str
    mode: str
    flush_every: int
    compress: int = 1         # LAZARUS_COMPRESS: 0 stores datasets contiguous, without filters
    chunk_bytes: str = "4M"   # LAZARUS_CHUNK_BYTES: 64K splits the larger regions into several chunks
    pace: bool = True         # PACE, or the program at full speed (faults then land at other moments)
    intruder: bool = False    # other parties (see the module's text)
    daemon: bool = False
    faults: list = field(default_factory=list)
    failing: int = 0          # attempts the faults end
    terminal: str = ""        # full_fs or read_only of a single-level job: the job cannot finish

    def describe(self):
        flush = "" if self.topology == "single" else f" flush_every={self.flush_every}"
        return (f"{self.program} {self.topology} {self.mode}{flush} compress={self.compress} "
                f"chunks={self.chunk_bytes}{'' if self.pace else ' unpaced'}"
                f"{' +intruder' if self.intruder else ''}{' +daemon' if self.daemon else ''}")


def draw(seed, index):
    """The plan of run `index`: its configuration and faults, from (seed, index) only. The main kind cycles
    through KINDS with the index, so that any 12 consecutive runs cover every kind."""
    rng = random.Random(f"lazarus-campaign:{seed}:{index}")
    main_kind = KINDS[(index + seed) % len(KINDS)]
    program = "heat2d" if rng.random() < 0.6 else "many_regions"
    topologies = ["one_node", "partner", "xor"] + (["single"] if program == "many_regions" else [])
    if main_kind == "read_only" and rng.random() < 0.5:
        program, topologies = "many_regions", ["single"]  # the case that cannot finish
    if main_kind in ("node_kill", "crash_rebuild"):
        topologies = [t for t in topologies if TOPOLOGIES[t]["spares"] and (t != "single" or main_kind == "node_kill")]
    if main_kind == "crash_flush":
        topologies = [t for t in topologies if t != "single"]
    topology = rng.choice(topologies)
    # A flush to crash in, or global versions to delete.
    flush_choices = [1, 3, 10] if main_kind == "vanish" else [1, 3, 10, 1000]
    plan = Plan(seed, index, program, topology, rng.choice(["sync", "async"]), rng.choice(flush_choices),
                compress=rng.choice([0, 1, 3]), chunk_bytes=rng.choice(["64K", "4M"]),
                pace=main_kind == "full_fs" or rng.random() < 0.7)  # a file system fills while the job runs
    others = random.Random(f"lazarus-campaign-others:{seed}:{index}")
    plan.intruder, plan.daemon = others.random() < 0.3, others.random() < 0.2
    state = {"version": rng.randint(3, 7), "hosting": list(TOPOLOGIES[topology]["hosting"]),
             "spares": list(TOPOLOGIES[topology]["spares"]), "last": None}

    def failing_kinds():
        kinds = ["rank_kill", "hang", "crash_write", "crash_commit"]
        if state["spares"]:
            kinds.append("node_kill")
        if topology != "single" and plan.flush_every != 1000:
            kinds.append("crash_flush")
        return kinds

    def add_failing(kind):
        version = state["version"]
        attempt = plan.failing + 1
        topo = TOPOLOGIES[topology]
        rank = rng.randrange(RANKS)
        if kind == "rank_kill":
            fault = Fault(kind, f"kill rank={rank} after-checkpoint={version}")
        elif kind == "hang":
            fault = Fault(kind, f"stop rank={rank} after-checkpoint={version}")
        elif kind == "node_kill":
            node = rng.choice(state["hosting"])
            slot = state["hosting"].index(node)
            state["hosting"][slot] = state["spares"].pop(0)
            fault = Fault(kind, f"kill node={node} after-checkpoint={version}")
            fault.rank = slot * topo["per_node"]  # the first rank of the lost node's place
        elif kind == "crash_write":
            point = rng.choice(["before_write", "during_write", "after_write"])
            fault = Fault(kind, f"crash point={point} rank={rank} version={version} attempt={attempt}")
        elif kind == "crash_commit":
            point = rng.choice(["during_commit", "after_commit"])
            if point == "during_commit" and topology != "single":
                rank = rng.randrange(0, RANKS, topo["per_node"])  # node leaders publish the local manifest
            fault = Fault(kind, f"crash point={point} rank={rank} version={version} attempt={attempt}")
        elif kind == "crash_flush":
            point = rng.choice(["during_flush", "during_flush_commit", "after_flush_commit"])
            if point == "during_flush_commit":
                rank = 0  # rank 0 commits the global copy
            if plan.flush_every == 1000:  # the only copy is the Session's end's: a crash after the checksum
                fault = Fault(kind, f"crash point={point} rank={rank} attempt={attempt}")
            else:
                version = -(-version // plan.flush_every) * plan.flush_every  # a version that is copied
                fault = Fault(kind, f"crash point={point} rank={rank} version={version} attempt={attempt}")
        elif kind == "crash_restore":
            fault = Fault(kind, f"crash point=during_restore rank={rank} attempt={attempt}")
        elif kind == "crash_rebuild":
            point = rng.choice(["during_rebuild", "after_rebuild"])
            if point == "during_rebuild":
                rank = state["last"].rank  # the leader of the spare that receives rebuilt files
            fault = Fault(kind, f"crash point={point} rank={rank} attempt={attempt}")
        plan.faults.append(fault)
        plan.failing += 1
        state["version"] = version + rng.randint(5, 9)
        state["last"] = fault

    def add_between(kind):
        fault = Fault(kind, failure=plan.failing)
        if kind == "corrupt":
            fault.rank = rng.randrange(RANKS)
        plan.faults.append(fault)
        return fault

    # What the main kind needs before it.
    if main_kind == "crash_rebuild":
        add_failing("node_kill")
    elif main_kind in ("crash_restore", "vanish", "corrupt", "read_only"):
        add_failing(rng.choice([k for k in failing_kinds() if k != "node_kill" or main_kind != "read_only"]))
    # The main kind.
    if main_kind in FAILING or main_kind in ("crash_restore", "crash_rebuild"):
        add_failing(main_kind)
        if main_kind == "crash_flush" and plan.flush_every == 1000:
            return plan  # it ends the last attempt but one
    elif main_kind in ("vanish", "corrupt"):
        add_between(main_kind)
    elif main_kind == "read_only":
        add_between(main_kind)
        plan.terminal = "read_only" if topology == "single" else ""
        return plan if plan.terminal else finish_draw(rng, plan, state, failing_kinds, add_failing, add_between, 1)
    elif main_kind == "full_fs":
        plan.faults.append(Fault("full_fs", version=state["version"]))
        plan.terminal = "full_fs"
        return plan
    return finish_draw(rng, plan, state, failing_kinds, add_failing, add_between, rng.choice([0, 1, 1, 2]))


def finish_draw(rng, plan, state, failing_kinds, add_failing, add_between, more):
    """Up to `more` further faults after the main one, each possibly followed by a harness fault."""
    for _ in range(more):
        kinds = failing_kinds()
        # A restore to crash in needs something to restore: not right after the global level vanished
        # in a single-level job.
        previous = plan.faults[-1].kind
        if previous in FAILING + ["crash_restore", "crash_rebuild", "corrupt"]:
            kinds.append("crash_restore")
        if previous == "node_kill" and plan.topology in ("partner", "xor"):
            kinds.append("crash_rebuild")
        add_failing(rng.choice(kinds))
        read_only = any(f.kind == "read_only" for f in plan.faults)  # an immutable folder cannot vanish
        if rng.random() < 0.3:
            add_between(rng.choice(["corrupt"] if read_only else ["vanish", "corrupt"]))
    read_only = any(f.kind == "read_only" for f in plan.faults)  # the copy would fail before its crash point
    if plan.flush_every == 1000 and plan.topology != "single" and not read_only and rng.random() < 0.4:
        add_failing("crash_flush")  # in the copy at the Session's end, once the job is done
    return plan


# ---- the file system faults, applied by a watcher thread while the launcher runs ----

def version_dirs(job_dir):
    """Every version folder of a job at every level: the global one, and each logical node's."""
    found = list(job_dir.glob("v[0-9]*"))
    found += list(job_dir.glob(f"nodes/*/{job_dir.name}/v[0-9]*"))
    return [d for d in found if d.is_dir()]


def complete_versions(job_dir, level="any"):
    dirs = version_dirs(job_dir)
    if level == "global":
        dirs = [d for d in dirs if d.parent == job_dir]
    return sorted({int(d.name[1:]) for d in dirs if (d / "manifest.json").exists()})


def flip_byte(path, rng):
    size = path.stat().st_size
    offset = rng.randrange(size // 4, 3 * size // 4)
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x5A]))
    return offset


def set_immutable(paths, on):
    for path in paths:
        subprocess.run(["chattr", "+i" if on else "-i", str(path)], check=True, capture_output=True)


def unfreeze_all(root):
    """Undoes every chattr +i under root (before anything is removed)."""
    if root.exists():
        subprocess.run(["chattr", "-R", "-i", str(root)], capture_output=True)


class Watcher(threading.Thread):
    """Applies a run's harness faults when their event appears in the events file: a full file system
    once checkpoint V is reported (kept full until the run ends), and read_only, vanish and corrupt once
    the teardown of failure F is reported: no process of the attempt is left, and the next one has not
    begun to restore yet (see LATE_MS)."""

    def __init__(self, plan, events_file, job_dir, fs_root, rng):
        super().__init__(daemon=True)
        self.plan, self.events_file, self.job_dir, self.fs_root, self.rng = plan, events_file, job_dir, fs_root, rng
        self.pending = [f for f in plan.faults if not f.inject]
        self.applied = {}  # id(fault) -> (unix ms when it began, unix ms when it was done, what was done)
        self.committed = {}  # failure number -> (the newest complete version on disk after its teardown, when)
        self.damaged = set()  # versions a corrupt fault damaged
        self.frozen = []
        self.filler = None
        self.done = threading.Event()
        self.error = None
        self.seen_size, self.events = -1, []

    def run(self):
        try:
            while not self.done.is_set():
                self.step()
                time.sleep(0.005)
            self.step()
        except Exception as error:  # reported by the run's checks
            self.error = f"{type(error).__name__}: {error}"

    def step(self):
        size = self.events_file.stat().st_size if self.events_file.exists() else 0
        if size != self.seen_size:
            self.seen_size, self.events = size, read_events(self.events_file)
        events = self.events
        # Once an attempt's teardown is reported, none of its processes is left to write: what is complete
        # now is what the next attempt must resume from, and the harness faults act on a still folder.
        failures = sum(1 for e in events if e["event"] == "teardown")
        newest = max([e["version"] for e in events if e["event"] == "checkpoint"], default=0)
        for number in range(len(self.committed) + 1, failures + 1):
            intact = [v for v in complete_versions(self.job_dir) if v not in self.damaged]
            self.committed[number] = (max(intact, default=0), int(time.time() * 1000))
        for fault in list(self.pending):
            started = int(time.time() * 1000)
            if fault.kind == "full_fs" and newest >= fault.version:
                self.filler = self.fs_root / f"filler-{self.plan.index}"
                self.fill()
                self.record(fault, started, f"filled after checkpoint {newest}")
            elif fault.kind != "full_fs" and failures >= fault.failure:
                self.record(fault, started, self.apply(fault))
        if self.filler is not None:
            self.fill()  # keep it full: space freed by an abandoned checkpoint is taken again

    def record(self, fault, started, what):
        """The fault took effect at some moment from `started` to now (both in unix ms)."""
        self.applied[id(fault)] = (started, int(time.time() * 1000), what)
        self.pending.remove(fault)

    def fill(self):
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for block in (1 << 20, 4096, 1):
                try:
                    while os.write(fd, b"\0" * block) > 0:
                        pass
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
        finally:
            os.close(fd)

    def apply(self, fault):
        if fault.kind == "read_only":
            self.frozen = [self.job_dir] + [d for d in version_dirs(self.job_dir) if d.parent == self.job_dir]
            set_immutable(self.frozen, True)
            return f"chattr +i on {len(self.frozen)} folders"
        if fault.kind == "vanish":
            gone = [d for d in version_dirs(self.job_dir) if d.parent == self.job_dir]
            for d in gone:
                shutil.rmtree(d)
            return f"deleted global versions {sorted(int(d.name[1:]) for d in gone)}"
        if fault.kind == "corrupt":
            versions = complete_versions(self.job_dir)
            if not versions:
                return "no complete version to corrupt"
            newest = versions[-1]
            names = {f"rank-{fault.rank:05}.h5", f"partner-rank-{fault.rank:05}.h5"}
            flipped = []
            for d in version_dirs(self.job_dir):
                if int(d.name[1:]) != newest:
                    continue
                for name in names:
                    if (d / name).exists():
                        flip_byte(d / name, self.rng)
                        flipped.append(str((d / name).relative_to(self.job_dir)))
            fault.detail = str(newest)
            self.damaged.add(newest)
            return f"flipped a byte of version {newest} in {', '.join(sorted(flipped)) or 'no file'}"
        raise ValueError(fault.kind)


class Intruder(threading.Thread):
    """A process of the job gone rogue (see the module's text): in each attempt, once its ranks run, it
    claims a random rank for a bystander's pid over TCP and over the Unix socket, and keeps a crowd of
    idle TCP connections open (reopening those the launcher drops)."""

    CROWD = 100

    def __init__(self, job, events_file, rng):
        super().__init__(daemon=True)
        self.job, self.events_file, self.rng = job, events_file, rng
        self.bystander = subprocess.Popen(["sleep", "600"], start_new_session=True)
        self.done = threading.Event()
        self.claims = 0
        self.error = None

    def run(self):
        crowd, claimed = [], set()
        try:
            while not self.done.is_set():
                launches = [e for e in read_events(self.events_file) if e["event"] == "launch"]
                if launches:
                    host, port = launches[-1]["heartbeat_address"].rsplit(":", 1)
                    crowd = [c for c in crowd if not self.dropped(c)]
                    while len(crowd) < self.CROWD:
                        try:
                            crowd.append(socket.create_connection((host, int(port)), timeout=1))
                        except OSError:
                            break  # the launcher is gone (the run ended) or its backlog is full
                    env = environment_of_job(self.job)
                    attempt = int(env.get("LAZARUS_ATTEMPT", 0)) if env else 0
                    if attempt and attempt not in claimed:
                        claimed.add(attempt)
                        self.claim(env, host, int(port), attempt)
                time.sleep(0.1)
        except Exception as error:  # reported by the run's checks
            self.error = f"{type(error).__name__}: {error}"
        finally:
            for c in crowd:
                c.close()

    @staticmethod
    def dropped(connection):
        try:
            connection.setblocking(False)
            return connection.recv(1) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def claim(self, env, host, port, attempt):
        line = ('{"type":"hello","token":"%s","rank":%d,"size":%d,"node":"n1","pid":%d,"attempt":%d}\n'
                % (env["LAZARUS_LAUNCHER_TOKEN"], self.rng.randrange(RANKS), RANKS, self.bystander.pid, attempt))
        for family, address in ((socket.AF_INET, (host, port)), (socket.AF_UNIX, env["LAZARUS_LAUNCHER_SOCKET"])):
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.settimeout(1)
                try:
                    s.connect(address)
                    s.sendall(line.encode())
                    time.sleep(0.05)
                except OSError:
                    pass  # the launcher closed on it: what must happen
        self.claims += 1

    def finish(self):
        """Stops; returns whether the bystander lived through the run."""
        self.done.set()
        self.join()
        alive = self.bystander.poll() is None
        self.bystander.kill()
        self.bystander.wait()
        return alive


# ---- one run ----

def story(run):
    """The run's stderr without the launcher's `checkpoint version N committed` lines, for a FAILED report."""
    lines = [line for line in run.stderr.splitlines() if not re.search(r"\] checkpoint version \d+ committed$", line)]
    return f"exit {run.returncode}\n--- stderr, checkpoint lines left out (tail)\n" + "\n".join(lines[-80:])


class Campaign:
    def __init__(self, setup, many_regions, small_fs, keep):
        self.setup, self.many_regions, self.small_fs, self.keep = setup, many_regions, small_fs, keep
        self.references = {}
        self.can_freeze = self.probe_chattr()

    def probe_chattr(self):
        probe = self.setup.work / "chattr-probe"
        probe.mkdir()
        try:
            set_immutable([probe], True)
            set_immutable([probe], False)
            return True
        except (subprocess.CalledProcessError, FileNotFoundError):
            return False
        finally:
            probe.rmdir()

    def program(self, plan):
        pace = PACE if plan.pace else []
        if plan.program == "heat2d":
            program = [self.setup.heat2d, *HEAT2D_ARGS, *pace]
        else:
            program = [self.many_regions, *MANY_REGIONS_ARGS, *pace] + (["--single-level"] if plan.topology == "single" else [])
        if plan.daemon:  # rank 0 leaves a daemon holding mpirun's output open when it ends
            script = ('"$0" "$@"; status=$?; '
                      'if [ "$OMPI_COMM_WORLD_RANK" = 0 ]; then setsid -f sleep 600; fi; exit $status')
            program = ["sh", "-c", script, *program]
        return program

    def reference(self, plan):
        if plan.program not in self.references:
            program = [self.setup.heat2d, *HEAT2D_ARGS] if plan.program == "heat2d" else [self.many_regions, *MANY_REGIONS_ARGS]
            self.references[plan.program] = reference_checksum(self.setup, STEPS, RANKS, program, f"ref-{plan.program}")
        return self.references[plan.program]

    def skip_reason(self, plan):
        kinds = {f.kind for f in plan.faults}
        if "full_fs" in kinds and not self.small_fs:
            return "no small file system (mounting a tmpfs needs root: run under tests/mpi/with_small_fs.sh)"
        if "read_only" in kinds and not self.can_freeze:
            return "chattr +i is not permitted here (needs root on a file system with immutable files)"
        return None

    def run(self, plan):
        """Runs the plan; returns (outcome, note). Raises TestFailure when a check fails."""
        job = f"run{plan.index}"
        root = self.small_fs / f"run{plan.index}" if any(f.kind == "full_fs" for f in plan.faults) else None
        job_dir = (root or self.setup.work) / job
        events_file = self.setup.work / job / "events.jsonl"
        options = ["-n", str(RANKS), *TOPOLOGIES[plan.topology]["options"]]
        if any(f.kind == "hang" for f in plan.faults):
            options += ["--heartbeat", "0.2", "--hang-timeout", "3"]
        for fault in plan.faults:
            if fault.inject:
                options += ["--inject", fault.inject]
        env = dict(TOPOLOGIES[plan.topology].get("env", {}), LAZARUS_MODE=plan.mode,
                   LAZARUS_FLUSH_EVERY=str(plan.flush_every), LAZARUS_COMPRESS=str(plan.compress),
                   LAZARUS_CHUNK_BYTES=plan.chunk_bytes)
        rng = random.Random(f"lazarus-campaign-files:{plan.seed}:{plan.index}")
        watcher = Watcher(plan, events_file, job_dir, self.small_fs, rng)
        intruder = (Intruder(job, events_file, random.Random(f"lazarus-campaign-intruder:{plan.seed}:{plan.index}"))
                    if plan.intruder else None)
        expected = self.reference(plan)
        if root:
            root.mkdir(parents=True)
        watcher.start()
        if intruder:
            intruder.start()
        bystander_lived = True
        try:
            run = lazarus_run(self.setup, job, options, program=self.program(plan), timeout=600, env=env, root=root)
        finally:
            watcher.done.set()
            watcher.join()
            bystander_lived = intruder.finish() if intruder else True
            unfreeze_all(job_dir)
        try:
            if intruder:
                context = f"run {plan.index} (seed {plan.seed})"
                check(intruder.error is None, f"{context}: the intruder failed: {intruder.error}")
                check(bystander_lived, f"{context}: the launcher killed the bystander a forged hello named\n{story(run)}")
                check(intruder.claims > 0, f"{context}: the intruder never claimed a rank\n{story(run)}")
            return self.judge(plan, run, watcher, job_dir, expected)
        finally:
            if watcher.filler is not None:
                watcher.filler.unlink()
            if root and not self.keep:
                shutil.rmtree(root, ignore_errors=True)

    def judge(self, plan, run, watcher, job_dir, expected):
        context = f"run {plan.index} (seed {plan.seed})"
        check(watcher.error is None, f"{context}: the harness could not apply its fault: {watcher.error}")
        for fault in plan.faults:
            if fault.inject:
                fired = self.fired(fault, run)
                check(fired, f"{context}: fault '{fault.inject}' never fired\n{story(run)}")
            else:
                check(id(fault) in watcher.applied, f"{context}: {fault.describe()} was never applied\n{story(run)}")
        launched = {e["attempt"]: e["unix_ms"] for e in run.of("launch")}
        notes = []
        for fault in plan.faults:
            if not fault.inject:
                _, applied_at, what = watcher.applied[id(fault)]
                late = fault.failure and applied_at > launched.get(fault.failure + 1, applied_at) + LATE_MS
                notes.append(f"{fault.kind}: {what}{' (after the next attempt was launched)' if late else ''}")
        teardowns = [e["unix_ms"] for e in run.of("teardown")]
        delays = [watcher.committed[n][1] - teardowns[n - 1] for n in watcher.committed if n <= len(teardowns)]
        if delays and max(delays) > LATE_MS:
            notes.append(f"the harness saw a teardown {max(delays)} ms late")
        resumes = [f"{e['version']}" + (f" ({e['level']})" if e.get("level") else "")
                   for e in run.of("resumed") if e["attempt"] > 1]
        if resumes:
            notes.append("resumed " + ", ".join(resumes))
        self.check_versions(plan, run, watcher, job_dir, context)

        if run.returncode == 0:
            got = checksum_in(run.stdout)
            check(got == expected, f"{context}: checksum {got}, uninterrupted run {expected}\n{story(run)}")
            check(not plan.terminal or plan.terminal == "full_fs",
                  f"{context}: finished although its global level was read-only\n{story(run)}")
            failures = run.of("failure")
            check(len(failures) == plan.failing or plan.terminal,
                  f"{context}: {len(failures)} failures, expected {plan.failing}: {failures}\n{story(run)}")
            check(not [r for r in run.of("restart") if r["counted"]] or plan.terminal,
                  f"{context}: an injected fault counted towards no_progress: {run.of('restart')}")
            if not any(f.kind == "read_only" for f in plan.faults):
                newest = max([e["version"] for e in run.of("checkpoint")], default=0)
                global_newest = max(complete_versions(job_dir, "global"), default=0)
                check(global_newest >= newest, f"{context}: the global level ends at version {global_newest}, but "
                      f"version {newest} was committed\n{story(run)}")
                if global_newest:
                    out = subprocess.run([self.setup.lazarus, "verify", str(job_dir.parent), "--job", job_dir.name,
                                          "--version", str(global_newest)], capture_output=True, text=True)
                    check(out.returncode == 0, f"{context}: global version {global_newest} does not verify:\n"
                          f"{out.stdout}{out.stderr}")
                # The job's own end copied its newest version there; the launcher's scavenge had nothing to do.
                scavenged = [e for e in run.of("scavenge") if e["version"] > 0]
                check(not scavenged, f"{context}: the Session's end left the newest version to the launcher's "
                      f"scavenge: {scavenged}\n{story(run)}")
            return "bit-identical", "; ".join(notes)
        check(plan.terminal, f"{context}: the job did not finish\n{story(run)}")
        check(run.returncode == 5, f"{context}: exit status {run.returncode}, expected 5 (no_progress)\n{story(run)}")
        give_up = run.of("give_up")
        check(give_up and give_up[-1]["rule"] == "no_progress", f"{context}: no give_up no_progress: {give_up}")
        check("giving up (rule no_progress)" in run.stderr, f"{context}: no message on giving up\n{story(run)}")
        reason = {"full_fs": "No space left on device", "read_only": "Operation not permitted"}[plan.terminal]
        check(reason in run.stderr, f"{context}: the program's error does not say '{reason}'\n{story(run)}")
        return "documented status", "; ".join(notes + ["exit 5 (no_progress)"])

    @staticmethod
    def fired(fault, run):
        if fault.inject.startswith("crash"):
            # The rank's own line may be lost with it (mpirun is torn down before it forwards it); the
            # launcher's failure then names the crash point.
            fields = dict(word.split("=") for word in fault.inject.split()[1:])
            return (f"rank {fields['rank']} killing itself at {fields['point']}" in run.stderr or
                    any(f["attempt"] == int(fields["attempt"]) and f["rank"] == int(fields["rank"]) and
                        f"at crash point {fields['point']}" in f["cause"] for f in run.of("failure")))
        return any(e["fault"] == fault.inject for e in run.of("fault_injected"))

    def check_versions(self, plan, run, watcher, job_dir, context):
        """No committed version is lost: each attempt resumes from the newest version committed before the
        failure that ended the previous one, unless a harness fault took it away (then from the version
        that fault leaves), and the newest is still on disk at the end."""
        low, high = 0, None  # the range of versions the next attempt may resume from
        # Each harness fault, from when it began (it may already act on what follows) to when it was done
        # (only then is its effect certain).
        effects = sorted((watcher.applied[id(f)][:2] + (f,) for f in plan.faults
                          if not f.inject and f.kind in ("corrupt", "vanish") and id(f) in watcher.applied),
                         key=lambda entry: entry[0])
        launched = {e["attempt"]: e["unix_ms"] for e in run.of("launch")}
        vanished_at = {f.failure for f in plan.faults if f.kind == "vanish"}

        def late(applied_at, attempt):
            """Applied (or looked at) when attempt `attempt`'s ranks may have begun to restore already."""
            return applied_at > launched.get(attempt, 1 << 62) + LATE_MS

        def take_effect(fault, certain):
            nonlocal low, high
            if fault.kind == "vanish" and plan.topology == "single":
                low, high = 0, (0 if certain else high)
            elif fault.kind == "corrupt" and fault.detail:
                damaged = int(fault.detail)
                if damaged >= low:
                    low = min(low, damaged - 1)
                    high = (damaged if plan.topology == "xor" else damaged - 1) if certain else None

        torn_down = restarts = 0
        for event in run.events:
            resumed = event["event"] == "resumed" and event["attempt"] > 1
            torn_down += event["event"] == "teardown"
            restarts += event["event"] == "restart"
            if event["event"] == "restart":
                # What is complete once the attempt is torn down: as the harness saw it, when it looked
                # before the next attempt could write; else as the launcher saw it (it reads no data).
                seen, seen_at = watcher.committed.get(torn_down, (0, 1 << 62))
                if late(seen_at, event["attempt"]):
                    seen = event["version"] if torn_down not in vanished_at else 0
                elif torn_down not in vanished_at:
                    check(event["version"] >= seen, f"{context}: the restart to attempt {event['attempt']} names "
                          f"version {event['version']}, but version {seen} is complete on disk\n{story(run)}")
                low, high = max(low, seen), None
            # A harness fault acts on what the restart after its failure found complete: never before it,
            # even when both fall on the same millisecond.
            while effects and effects[0][0] <= event["unix_ms"] and restarts >= effects[0][2].failure:
                _, applied_at, fault = effects.pop(0)
                take_effect(fault, certain=not resumed or not late(applied_at, event["attempt"]))
            if event["event"] == "checkpoint":
                low, high = max(low, event["version"]), None
            if resumed:
                version = event["version"]
                check(low <= version and (high is None or version <= high),
                      f"{context}: attempt {event['attempt']} resumed version {version}, expected "
                      f"{low if high == low else f'{low} or newer' if high is None else f'{low} to {high}'}\n"
                      f"{story(run)}")
        for _, _, fault in effects:
            take_effect(fault, True)
        on_disk = complete_versions(job_dir)
        check(not low or (on_disk and on_disk[-1] >= low),
              f"{context}: version {low} was committed, the newest complete on disk is "
              f"{on_disk[-1] if on_disk else None}\n{story(run)}")
        for fault in plan.faults:
            if fault.kind == "corrupt" and fault.detail and plan.topology != "xor":
                check("unusable" in run.stderr or "damaged" in run.stderr,
                      f"{context}: the damage to version {fault.detail} was not reported\n{story(run)}")


def print_table(counts, runs, failed):
    kinds = [k for k in KINDS if any(counts.get((k, o)) for o in OUTCOMES)]
    width = max(len(k) for k in KINDS + ["fault kind"])
    print()
    print(f"{'fault kind':<{width}}  " + "  ".join(f"{o:>18}" for o in OUTCOMES) + f"  {'total':>6}")
    for kind in kinds:
        row = [counts.get((kind, o), 0) for o in OUTCOMES]
        print(f"{kind:<{width}}  " + "  ".join(f"{n:>18}" for n in row) + f"  {sum(row):>6}")
    totals = [sum(counts.get((k, o), 0) for k in KINDS) for o in OUTCOMES]
    print(f"{'all faults':<{width}}  " + "  ".join(f"{n:>18}" for n in totals) + f"  {sum(totals):>6}")
    for kind in [k for k in OTHER_PARTIES if any(counts.get((k, o)) for o in OUTCOMES)]:
        row = [counts.get((kind, o), 0) for o in OUTCOMES]
        print(f"{'with ' + kind:<{width}}  " + "  ".join(f"{n:>18}" for n in row) + f"  {sum(row):>6}")
    print(f"{runs} runs, {sum(totals)} faults; FAILED runs: {', '.join(map(str, failed)) or 'none'}")


def enter_small_fs():
    """Runs this script again in a mount namespace of its own with a 12 MiB tmpfs for the full_fs faults
    (tests/mpi/with_small_fs.sh), where mounting is permitted; elsewhere those runs are skipped."""
    if os.environ.get("LAZARUS_IN_SMALL_FS") == "1":
        return
    if subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True).returncode:
        return
    script = Path(__file__).resolve().parent.parent / "mpi" / "with_small_fs.sh"
    sys.stdout.flush()
    os.execvp("bash", ["bash", str(script), sys.executable, str(Path(__file__).resolve()), *sys.argv[1:]])


def main():
    enter_small_fs()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("lazarus")
    parser.add_argument("heat2d")
    parser.add_argument("many_regions")
    parser.add_argument("mpiexec")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--first", type=int, default=0, help="index of the first run")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    small_fs = Path(os.environ["LAZARUS_TEST_SMALL_FS"]) if os.environ.get("LAZARUS_TEST_SMALL_FS") else None
    setup = Setup([sys.argv[0], args.lazarus, args.heat2d, args.mpiexec])
    campaign = Campaign(setup, args.many_regions, small_fs, args.keep)
    counts, failed = {}, []
    start = time.monotonic()
    try:
        for index in range(args.first, args.first + args.runs):
            plan = draw(args.seed, index)
            print(f"run {index} (seed {args.seed}): {plan.describe()}", flush=True)
            for fault in plan.faults:
                print(f"    {fault.describe()}", flush=True)
            began = time.monotonic()
            reason = campaign.skip_reason(plan)
            if reason:
                outcome, note = "skipped", reason
            else:
                try:
                    outcome, note = campaign.run(plan)
                except TestFailure as failure:
                    outcome, note = "FAILED", str(failure)
                    failed.append(index)
            for kind in [f.kind for f in plan.faults] + [k for k in OTHER_PARTIES if getattr(plan, k)]:
                counts[(kind, outcome)] = counts.get((kind, outcome), 0) + 1
            print(f"  -> {outcome} in {time.monotonic() - began:.1f} s{': ' + note if note else ''}", flush=True)
    finally:
        if args.keep:
            print(f"work folder kept: {setup.work}")
        else:
            unfreeze_all(setup.work)
            setup.cleanup()
    print_table(counts, args.runs, failed)
    print(f"seed {args.seed}, runs {args.first} to {args.first + args.runs - 1}, {time.monotonic() - start:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
