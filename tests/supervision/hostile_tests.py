"""`lazarus run` against other parties (issue 13): a process of the job forging a rank, a flood of
connections at launch, a rank that leaves a daemon behind.
Usage: hostile_tests.py LAZARUS HEAT2D MPIEXEC CASE"""
import socket
import subprocess
import sys
import threading
import time

from harness import (HEAT2D_ARGS, check, checksum_in, environment_of_job, lazarus_run, main, read_events,
                     reference_checksum)

STEPS = 9000


def finished_bit_exact(setup, run, steps=STEPS):
    check(run.returncode == 0, f"the job did not finish\n{run.explain()}")
    got, expected = checksum_in(run.stdout), reference_checksum(setup, steps)
    check(got == expected, f"checksum {got} differs from the uninterrupted run's {expected}\n{run.explain()}")


def wait_for_launch(events_file, limit=30):
    """The first launch event of a run, once the launcher wrote it."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        launches = [e for e in read_events(events_file) if e["event"] == "launch"]
        if launches:
            return launches[0]
        time.sleep(0.02)
    raise TimeoutError(f"no launch event in {events_file}")


def forged_rank_cannot_get_a_process_killed(setup):
    """Item 6: a process of the job (it has the token) claims ranks 0 and 1 before they connect, naming
    the pid of a process that is not the job's, over TCP and over the Unix socket, and keeps the
    connections open. Both claims are refused (no TCP hello from the launcher's machine; the Unix
    socket's peer is not the pid named). The injected kill of rank 0 reaches the real rank, the victim
    lives, and the claims cause no failure."""
    job = "forged"
    victim = subprocess.Popen(["sleep", "300"], start_new_session=True)
    intruders = []

    def intrude():
        launch = wait_for_launch(setup.work / job / "events.jsonl")
        environment = None
        while environment is None:
            environment = environment_of_job(job)
            time.sleep(0.01)
        host, port = launch["heartbeat_address"].rsplit(":", 1)
        line = ('{"type":"hello","token":"%s","rank":%d,"size":4,"node":"n1","pid":%d,"attempt":1}\n'
                % (environment["LAZARUS_LAUNCHER_TOKEN"], 0, victim.pid)).encode()
        over_tcp = socket.create_connection((host, int(port)), timeout=5)
        over_tcp.sendall(line)
        intruders.append(over_tcp)
        local = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        local.connect(environment["LAZARUS_LAUNCHER_SOCKET"])
        local.sendall(line.replace(b'"rank":0', b'"rank":1'))
        intruders.append(local)

    thread = threading.Thread(target=intrude)
    thread.start()
    # The ranks create their Sessions 2 s after the launch: the impostor is first.
    program = ["sh", "-c", 'sleep 2; exec "$0" "$@"', setup.heat2d, *HEAT2D_ARGS, "--steps", str(STEPS)]
    try:
        run = lazarus_run(setup, job, ["-n", "4", "--local-nodes", "2", "--ranks-per-node", "2",
                                       "--inject", "kill rank=0 after-checkpoint=20"], program=program)
    finally:
        thread.join()
        for s in intruders:
            s.close()
        victim_alive = victim.poll() is None
        victim.kill()
        victim.wait()
    check(victim_alive, f"the launcher killed a process that is not the job's (pid {victim.pid})\n{run.explain()}")
    finished_bit_exact(setup, run)
    failures = run.of("failure")
    check(len(failures) == 1 and failures[0]["rank"] == 0 and failures[0]["injected"] and
          "signal 9" in failures[0]["cause"], f"the injected kill did not end rank 0: {failures}")
    reasons = [e["reason"] for e in run.of("connection_rejected")]
    check("a rank on the launcher's machine must connect over its Unix socket" in reasons,
          f"the TCP claim of rank 0 from this machine was not refused: {reasons}")
    check(any(r.startswith("the hello names pid") for r in reasons), f"the forged local hello was accepted: {reasons}")


def flooded_listener_still_sees_a_frozen_rank(setup):
    """Item 7: 1,100 idle TCP connections opened as the job starts, and reopened when dropped. The
    ranks still register, and a rank frozen with SIGSTOP is detected within the hang timeout."""
    job = "flooded"
    done = threading.Event()
    opened = []

    def flood():
        launch = wait_for_launch(setup.work / job / "events.jsonl")
        host, port = launch["heartbeat_address"].rsplit(":", 1)
        connections = []
        while not done.is_set():
            while len(connections) < 1100 and not done.is_set():
                try:
                    connections.append(socket.create_connection((host, int(port)), timeout=1))
                except OSError:
                    break
            opened.append(len(connections))
            alive = []
            for s in connections:  # those the launcher dropped are reopened
                try:
                    s.setblocking(False)
                    closed = s.recv(1) == b""
                except BlockingIOError:
                    closed = False
                except OSError:
                    closed = True
                (s.close() if closed else alive.append(s))
            connections = alive
            time.sleep(0.05)
        for s in connections:
            s.close()

    thread = threading.Thread(target=flood)
    thread.start()
    try:
        run = lazarus_run(setup, job, ["-n", "4", "--local-nodes", "2", "--ranks-per-node", "2", "--heartbeat", "0.2",
                                       "--hang-timeout", "3", "--inject", "stop rank=1 after-checkpoint=20"],
                          steps=STEPS)
    finally:
        done.set()
        thread.join()
    check(max(opened, default=0) >= 1000, f"the flood did not happen: {max(opened, default=0)} connections")
    finished_bit_exact(setup, run)
    failures = run.of("failure")
    check(failures and failures[0]["kind"] == "hang" and failures[0]["rank"] == 1,
          f"expected a hang of rank 1: {failures}\n{run.explain()}")
    failure = failures[0]
    check(failure["detection_latency_s"] < 4.5, f"the frozen rank was seen after {failure['detection_latency_s']} s")


def daemon_left_by_a_rank_is_ended_and_reported(setup):
    """Item 9: rank 0 leaves a daemon (setsid, then fork) holding mpirun's output open. The job ends,
    the daemon is reported and ended; nothing of the job survives."""
    job = "daemon"
    steps = 2000
    script = ('"$0" "$@"; status=$?; '
              'if [ "$OMPI_COMM_WORLD_RANK" = 0 ]; then setsid -f sleep 300; fi; exit $status')
    program = ["sh", "-c", script, setup.heat2d, *HEAT2D_ARGS, "--steps", str(steps)]
    run = lazarus_run(setup, job, ["-n", "4", "--local-nodes", "2", "--ranks-per-node", "2"], program=program,
                      timeout=120)
    finished_bit_exact(setup, run, steps)
    lingering = run.of("lingering")
    check(len(lingering) == 1 and any("(sleep)" in p for p in lingering[0]["processes"]),
          f"the daemon was not reported: {lingering}\n{run.explain()}")
    check(not run.of("failure"), f"a failure was reported: {run.of('failure')}")


CASES = {f.__name__: f for f in [forged_rank_cannot_get_a_process_killed, flooded_listener_still_sees_a_frozen_rank,
                                 daemon_left_by_a_rank_is_ended_and_reported]}

if __name__ == "__main__":
    sys.exit(main(CASES))
