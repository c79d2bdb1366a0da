"""examples.heat2d_stop: heat2d asked to stop by its launcher takes a final checkpoint, says
`stopping at step S on the launcher's request (final checkpoint version V)`, prints no checksum and
exits with status 0; a rerun resumes from version V and ends with the checksum of an uninterrupted
run. The launcher is played by this script: a listener on 127.0.0.1 that accepts every rank's
heartbeat connection and, once checkpoint version 2 is reported, sends `stop` to one rank only.

Usage: heat2d_stop.py HEAT2D MPIEXEC. Standard library only."""
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RANKS = 4
STEPS = 12000
ARGS = ["--n", "256", "--steps", str(STEPS), "--checkpoint-every", "100", "--job", "stop"]
TOKEN = "heat2d-stop-token"
TARGET = 2  # the one rank asked


class TestFailure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise TestFailure(message)


def checksums(text):
    return re.findall(r"^checksum: ([0-9a-f]{16})$", text, re.M)


class FakeLauncher:
    """Accepts the ranks' connections and collects their lines, by rank (from each hello)."""

    def __init__(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.peers = {}  # socket -> {"buffer": bytes, "rank": int or None, "closed": bool}
        self.lines = {}  # rank -> decoded messages

    def address(self):
        return f"127.0.0.1:{self.listener.getsockname()[1]}"

    def poll(self, timeout):
        open_peers = [s for s, p in self.peers.items() if not p["closed"]]
        readable, _, _ = select.select([self.listener, *open_peers], [], [], timeout)
        for sock in readable:
            if sock is self.listener:
                peer, _ = self.listener.accept()
                self.peers[peer] = {"buffer": b"", "rank": None, "closed": False}
                continue
            state = self.peers[sock]
            data = sock.recv(65536)
            if not data:
                state["closed"] = True
                continue
            state["buffer"] += data
            while b"\n" in state["buffer"]:
                line, state["buffer"] = state["buffer"].split(b"\n", 1)
                message = json.loads(line)
                if message["type"] == "hello":
                    check(message["token"] == TOKEN, f"wrong token in {message}")
                    state["rank"] = message["rank"]
                self.lines.setdefault(state["rank"], []).append(message)

    def send_to(self, rank, text):
        for sock, state in self.peers.items():
            if state["rank"] == rank:
                sock.sendall(text.encode())
                return
        raise TestFailure(f"no connection from rank {rank}")

    def count(self, rank, kind):
        return sum(1 for m in self.lines.get(rank, []) if m["type"] == kind)

    def all_closed(self):
        return len(self.peers) == RANKS and all(p["closed"] for p in self.peers.values())


def run_heat2d(mpiexec, heat2d, work, env=None):
    return subprocess.run([mpiexec, "-n", str(RANKS), heat2d, *ARGS, "--dir", str(work / "ckpt")],
                          capture_output=True, text=True, timeout=240, env=env)


def main(heat2d, mpiexec):
    work = Path(tempfile.mkdtemp(prefix="heat2d_stop."))
    job = None
    base_env = dict(os.environ, OMPI_MCA_btl_vader_backing_directory=str(work))
    try:
        print("--- 1. uninterrupted run")
        clean = subprocess.run([mpiexec, "-n", str(RANKS), heat2d, *ARGS, "--dir", str(work / "clean")],
                               capture_output=True, text=True, timeout=240, env=base_env)
        check(clean.returncode == 0 and len(checksums(clean.stdout)) == 1,
              f"uninterrupted run failed:\n{clean.stdout}{clean.stderr}")
        expected = checksums(clean.stdout)[0]

        print(f"--- 2. run asked to stop (rank {TARGET} only) after checkpoint version 2")
        launcher = FakeLauncher()
        env = dict(base_env, LAZARUS_LAUNCHER=launcher.address(), LAZARUS_LAUNCHER_TOKEN=TOKEN,
                   LAZARUS_HEARTBEAT="0.1", LAZARUS_ATTEMPT="1")
        job = subprocess.Popen([mpiexec, "-n", str(RANKS), heat2d, *ARGS, "--dir", str(work / "ckpt")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               start_new_session=True)
        deadline = time.monotonic() + 120
        sent = False
        while not launcher.all_closed() and time.monotonic() < deadline:
            launcher.poll(0.05)
            if not sent and any(m["type"] == "checkpoint" and m["version"] >= 2 for m in launcher.lines.get(0, [])):
                launcher.send_to(TARGET, '{"type":"stop"}\n')
                sent = True
        stdout, stderr = job.communicate(timeout=60)
        print(stdout, end="")
        check(sent, "checkpoint version 2 was never reported")
        check(job.returncode == 0, f"heat2d exited with {job.returncode} after the stop:\n{stderr}")
        check(not checksums(stdout), "a stopped run must not print its checksum")
        stopping = re.findall(r"^stopping at step (\d+) on the launcher's request \(final checkpoint version (\d+)\)$",
                              stdout, re.M)
        check(len(stopping) == 1,
              "expected one 'stopping at step S on the launcher's request (final checkpoint version V)'")
        step, version = int(stopping[0][0]), int(stopping[0][1])
        check(0 < step < STEPS and step % 10 == 0, f"stopped at step {step}")
        check((work / "ckpt" / "stop" / f"v{version:010d}" / "manifest.json").exists(),
              f"final checkpoint version {version} is not complete")
        for rank in range(RANKS):
            sent_stopping = launcher.count(rank, "stopping")
            check(sent_stopping == 1, f"rank {rank} sent {sent_stopping} 'stopping'")
            check(launcher.count(rank, "bye") == 1, f"rank {rank} did not say bye")
        print(f"--- stopped at step {step}, final checkpoint version {version}")

        print("--- 3. rerun of the stopped job")
        rerun = run_heat2d(mpiexec, heat2d, work, env=base_env)
        print(rerun.stdout, end="")
        check(rerun.returncode == 0, f"rerun failed:\n{rerun.stderr}")
        check(re.search(rf"^resumed from checkpoint version {version} at step {step}$", rerun.stdout, re.M),
              f"the rerun did not resume from version {version} at step {step}")
        got = checksums(rerun.stdout)
        check(got == [expected], f"checksum {got}, uninterrupted run {expected}")
        print("heat2d_stop: PASS")
        return 0
    except (TestFailure, subprocess.TimeoutExpired, ValueError, KeyError) as error:
        print(f"heat2d_stop: FAIL: {error}", file=sys.stderr)
        return 1
    finally:
        if job is not None and job.poll() is None:
            os.killpg(job.pid, 9)  # the job's own session: mpirun and its ranks
            job.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} HEAT2D MPIEXEC")
    sys.exit(main(sys.argv[1], sys.argv[2]))
