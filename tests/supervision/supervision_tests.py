"""`lazarus run` end to end on heat2d: detection, teardown, restart, spares, limits, usage errors.
Usage: supervision_tests.py LAZARUS HEAT2D MPIEXEC CASE"""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

from harness import HEAT2D_ARGS, Run, check, check_nothing_left, checksum_in, lazarus_run, main, reference_checksum
from harness import read_events, shm_entries

STEPS = 9000  # about 6 to 8 s on 2 cores with 4 ranks


def finished_bit_exact(setup, run, steps=STEPS):
    check(run.returncode == 0, f"the job did not finish\n{run.explain()}")
    got = checksum_in(run.stdout)
    expected = reference_checksum(setup, steps)
    check(got == expected, f"checksum {got} differs from the uninterrupted run's {expected}\n{run.explain()}")
    check(run.of("finish"), "no finish event")
    summary = run.of("summary")
    check(summary and summary[-1]["outcome"] == "finished", f"bad summary: {summary}")


def rank_kill_restarts_bit_exact(setup):
    run = lazarus_run(setup, "rankkill", ["-n", "4", "--local-nodes", "2", "--ranks-per-node", "2",
                                          "--inject", "kill rank=2 after-checkpoint=20"], steps=STEPS)
    finished_bit_exact(setup, run)
    failures = run.of("failure")
    check(len(failures) == 1, f"expected one failure, got {failures}")
    failure = failures[0]
    check(failure["kind"] == "rank_died" and failure["rank"] == 2 and failure["node"] == "n2", f"bad failure {failure}")
    check("signal 9" in failure["cause"], f"cause does not name SIGKILL: {failure}")
    check(failure["detection_latency_s"] < 0.5, f"detection took {failure['detection_latency_s']} s")
    restart = run.of("restart")[0]
    check(restart["version"] > 0 and restart["replaced"] == [], f"bad restart {restart}")
    resumed = [e for e in run.of("resumed") if e["attempt"] == 2]
    check(resumed and resumed[0]["version"] == restart["version"], f"attempt 2 did not restore version {restart['version']}")
    teardown = run.of("teardown")[0]
    check(teardown["survivors"] == 0 and teardown["seconds"] < 2.0, f"bad teardown {teardown}")
    # Issue 13, item 8: each attempt's shared-memory folder has an unguessable name of its own
    # (mkdtemp), not one derived from the token, which mpirun's argv and the events show.
    folders = [launch["shm_dir"] for launch in run.of("launch")]
    check(len(folders) == 2 and folders[0] != folders[1] and
          all(re.fullmatch(r"/dev/shm/lazarus-[A-Za-z0-9]{6}", folder) for folder in folders),
          f"shared-memory folders not made by mkdtemp: {folders}")
    # Issue 13, item 5: the job folder and the events file (it names the heartbeat port) are the user's.
    job_mode = (setup.work / "rankkill").stat().st_mode & 0o777
    events_mode = (setup.work / "rankkill" / "events.jsonl").stat().st_mode & 0o777
    check(job_mode == 0o700 and events_mode == 0o600, f"job folder {oct(job_mode)}, events {oct(events_mode)}")


def node_kill_relaunches_on_spare(setup):
    run = lazarus_run(setup, "nodekill", ["-n", "4", "--local-nodes", "3", "--ranks-per-node", "2", "--spares", "1",
                                          "--inject", "kill node=n1 after-checkpoint=20"], steps=STEPS)
    finished_bit_exact(setup, run)
    lost = run.of("node_lost")
    check(len(lost) == 1 and lost[0]["node"] == "n1" and lost[0]["spare"] == "n3", f"bad node_lost {lost}")
    launches = run.of("launch")
    check(launches[0]["nodes"] == ["n1", "n2"] and launches[1]["nodes"] == ["n3", "n2"], f"bad placement {launches}")
    check(not (setup.work / "nodekill" / "nodes" / "n1").exists(), "the lost node's folder came back")


def hang_is_detected_and_restarted(setup):
    run = lazarus_run(setup, "hang", ["-n", "4", "--local-nodes", "2", "--ranks-per-node", "2", "--heartbeat", "0.2",
                                      "--hang-timeout", "1.5", "--inject", "stop rank=1 after-checkpoint=20"], steps=STEPS)
    finished_bit_exact(setup, run)
    failure = run.of("failure")[0]
    check(failure["kind"] == "hang" and failure["rank"] == 1, f"expected a hang of rank 1: {failure}")
    check("no heartbeat" in failure["detected_by"], f"{failure}")
    # Judged from the last heartbeat (up to one interval before the stop), or blamed on the silent rank
    # once the others stopped progressing for the timeout.
    check(1.0 <= failure["detection_latency_s"] < 2.5, f"hang detected after {failure['detection_latency_s']} s")


def spares_exhausted(setup):
    run = lazarus_run(setup, "nospare", ["-n", "4", "--local-nodes", "2", "--ranks-per-node", "2",
                                         "--inject", "kill node=n2 after-checkpoint=5"], steps=STEPS)
    check(run.returncode == 4, f"expected exit 4 (no spare left)\n{run.explain()}")
    check("no spare left" in run.stderr, run.explain())
    check(run.of("summary")[-1]["outcome"] == "no spare node left", "bad summary")


def restarts_exhausted(setup):
    run = lazarus_run(setup, "restarts", ["-n", "4", "--local-nodes", "2", "--ranks-per-node", "2",
                                          "--max-restarts", "1", "--inject", "kill rank=1 after-checkpoint=10",
                                          "--inject", "kill rank=3 after-checkpoint=30"], steps=STEPS)
    check(run.returncode == 3, f"expected exit 3 (restarts exhausted)\n{run.explain()}")
    check(len(run.of("failure")) == 2, f"expected 2 failures: {run.of('failure')}")
    check("--max-restarts 1" in run.stderr, run.explain())


def no_progress(setup):
    """The program fails the same way twice before any checkpoint: the failure is in the program."""
    run = lazarus_run(setup, "noprogress", ["-n", "2"], program=["/bin/false"])
    check(run.returncode == 5, f"expected exit 5 (no progress)\n{run.explain()}")
    check(len(run.of("launch")) == 2, "expected exactly two attempts")
    check("the failure is in the application" in run.stderr, run.explain())
    give_up = run.of("give_up")
    check(len(give_up) == 1 and give_up[0]["rule"] == "no_progress", f"bad give_up {give_up}")
    check(give_up[0]["evidence"] == ["attempt 1: job_exited, exit code 1", "attempt 2: job_exited, exit code 1"],
          f"bad evidence {give_up[0]}")
    restart = run.of("restart")
    check(len(restart) == 1 and restart[0]["counted"], f"the first failure did not count: {restart}")


def injected_faults_before_the_first_checkpoint_restart(setup):
    """Two faults of the launcher's own (a rank kill, then a node loss) before heat2d's first checkpoint are
    outside the program: the job restarts from scratch, on the spare the second time, and finishes."""
    steps = 4000
    # The first checkpoint comes at step 3000, at least 6 s into an attempt (2 ms pause per step).
    program = [setup.heat2d, "--n", "256", "--checkpoint-every", "3000", "--pause-ms", "2", "--steps", str(steps)]
    run = lazarus_run(setup, "outsidefaults", ["-n", "4", "--ranks-per-node", "1", "--local-nodes", "5",
                                               "--spares", "1", "--max-restarts", "3",
                                               "--inject", "kill rank=0 after=1s", "--inject", "kill node=n3 after=3s"],
                      program=program)
    failures = run.of("failure")
    check(len(failures) == 2, f"expected two failures: {failures}\n{run.explain()}")
    second_failure = run.events.index(failures[1])
    check(not [e for e in run.events[:second_failure] if e["event"] == "checkpoint"],
          f"heat2d checkpointed before the second fault: the case is not tested\n{run.explain()}")
    finished_bit_exact(setup, run, steps=steps)
    check(all(f["injected"] for f in failures), f"failures not marked injected: {failures}")
    check(not run.of("give_up"), f"gave up: {run.of('give_up')}")
    restarts = run.of("restart")
    check(len(restarts) == 2 and not any(r["counted"] for r in restarts), f"a fault counted: {restarts}")
    check(all(r["version"] == 0 for r in restarts), f"expected restarts from scratch: {restarts}")
    lost = run.of("node_lost")
    check(len(lost) == 1 and lost[0]["node"] == "n3" and lost[0]["spare"] == "n5", f"bad node_lost {lost}")
    launches = run.of("launch")
    check(len(launches) == 3 and launches[2]["nodes"] == ["n1", "n2", "n5", "n4"], f"bad launches {launches}")


def usage_errors(setup):
    cases = [
        (["run", "--frobnicate", "-n", "2", "--", setup.heat2d], "frobnicate"),
        (["run", "-n", "0", "--", setup.heat2d], "-n"),
        (["run", "-n", "2", "--", str(setup.work / "no-such-program")], "not found"),
        (["run", "-n", "2"], "no program"),
        (["run", "-n", "5", "--local-nodes", "2", "--", setup.heat2d], "more ranks than slots"),
        (["run", "-n", "4", "--local-nodes", "2", "--spares", "1", "--", setup.heat2d], "more ranks than slots"),
        (["run", "-n", "2", "--inject", "explode rank=1", "--", setup.heat2d], "unknown fault"),
        (["run", "-n", "2", "--inject", "kill rank=7 after=1s", "--", setup.heat2d], "does not exist"),
        (["run", "-n", "2", "--hang-timeout", "0.5", "--heartbeat", "0.5", "--", setup.heat2d], "hang-timeout"),
        (["frobnicate"], "subcommand"),
        (["run", "-n", "2", "--launcher", "srun", "--", setup.heat2d], "needs a Slurm allocation"),
        (["run", "--", setup.heat2d], "-n (the number of ranks) is required"),
        # Issue 13, item 15: a --listen address that cannot be used is a usage error (it was exit 1).
        (["run", "-n", "2", "--dir", str(setup.work / "jobs"), "--listen", "999.1.1.1", "--", setup.heat2d],
         "--listen 999.1.1.1: heartbeat listener: '999.1.1.1' is not an IPv4 address"),
        (["run", "-n", "2", "--dir", str(setup.work / "jobs"), "--listen", "192.0.2.1", "--", setup.heat2d],
         "--listen 192.0.2.1: heartbeat listener: cannot listen on 192.0.2.1"),
        # Issue 13, item 3: a job name is one folder under --dir, as the library requires.
        (["run", "-n", "2", "--dir", str(setup.work / "jobs"), "--job", "../escaped", "--", setup.heat2d],
         "'../escaped' is not a valid job name"),
        (["run", "-n", "2", "--dir", str(setup.work / "jobs"), "--job", str(setup.work / "absolute"), "--",
          setup.heat2d], "is not a valid job name"),
        # Issue 13, item 15: a number out of range is shown as given, cut when long, with the range
        # (CLI11 printed all 300 digits and "Could not convert", and bounds as 0.100000).
        (["run", "-n", "2", "--max-restarts", "9" * 300, "--", setup.heat2d],
         "--max-restarts: '" + "9" * 40 + "...' (300 characters) is out of range: it must be 0 to 2147483647"),
        (["run", "-n", "2", "--hang-timeout", "1e300", "--", setup.heat2d],
         "--hang-timeout: '1e300' is out of range: it must be 0.1 to 86400"),
    ]
    # Outside any Slurm allocation, whatever runs the tests; then inside a made-up one.
    outside = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    allocation = dict(outside, SLURM_JOB_ID="77", SLURM_JOB_NODELIST="n[1-2]", SLURM_NTASKS_PER_NODE="2")
    slurm_cases = [
        (["run", "--spares", "1", "-n", "4", "--", setup.heat2d], "Slurm job 77 has 2 nodes (n[1-2])", allocation),
        (["run", "--spares", "2", "--", setup.heat2d], "--spares 2 holds back all of them", allocation),
        (["run", "--local-nodes", "2", "--launcher", "srun", "--", setup.heat2d], "go with --launcher mpirun", allocation),
        (["run", "--", setup.heat2d], "SLURM_JOB_NODELIST: bad hostlist expression 'n[1-'",
         dict(allocation, SLURM_JOB_NODELIST="n[1-")),
        (["run", "-n", "2", "--dir", str(setup.work / "jobs"), "--", setup.heat2d],
         "--job (or LAZARUS_JOB) '../../from-env' is not a valid job name", dict(outside, LAZARUS_JOB="../../from-env")),
    ]
    for arguments, expected, env in [(a, e, outside) for a, e in cases] + slurm_cases:
        out = subprocess.run([setup.lazarus, *arguments], capture_output=True, text=True, timeout=30, env=env)
        check(out.returncode == 2, f"lazarus {' '.join(arguments)}: exit {out.returncode}, expected 2\n{out.stderr}")
        check(expected in out.stdout + out.stderr, f"lazarus {' '.join(arguments)}: no '{expected}' in\n{out.stderr}")
    for escaped in ("jobs", "escaped", "absolute", "from-env"):
        check(not (setup.work / escaped).exists() and not (setup.work.parent / escaped).exists(),
              f"a refused command line created {escaped}")
    # Issue 13, item 4: a program path that is not UTF-8 (Linux paths are bytes) ended the launcher
    # with a JSON exception from the event log, exit 1. It is recorded with U+FFFD, and the job runs.
    odd = bytes(setup.work) + b"/true\xff"
    os.symlink("/bin/true", odd)
    out = subprocess.run([os.fsencode(setup.lazarus), b"run", b"-n", b"1", b"--dir", bytes(setup.work), b"--job",
                          b"odd", b"--", odd], capture_output=True, timeout=60, env=outside)
    check(out.returncode == 0, f"a program path that is not UTF-8: exit {out.returncode}\n{out.stderr!r}")
    launch = [e for e in read_events(setup.work / "odd" / "events.jsonl") if e["event"] == "launch"]
    check(launch and any("true\ufffd" in word for word in launch[0]["command"]), f"launch event: {launch}")
    out = subprocess.run([setup.lazarus, "run", "--help"], capture_output=True, text=True, timeout=30)
    check(out.returncode == 0 and "--hang-timeout" in out.stdout and "--inject" in out.stdout, "run --help incomplete")


def heartbeat_channel_rejects_intruders(setup):
    """Wrong tokens, garbage and a flood of connections are rejected while the job goes on."""
    address = {}

    def intrude():
        events_file = setup.work / "intruders" / "events.jsonl"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "value" not in address:
            for event in read_events(events_file):
                if "heartbeat_address" in event:
                    address["value"] = event["heartbeat_address"]
            time.sleep(0.05)
        host, port = address["value"].rsplit(":", 1)
        time.sleep(1.0)  # the ranks are connected and working by now

        def send(payload):
            with socket.create_connection((host, int(port)), timeout=5) as s:
                s.sendall(payload)
                s.settimeout(5)
                try:
                    return s.recv(16)  # the launcher closes on us: b""
                except (ConnectionResetError, socket.timeout):
                    return b""

        send(b'{"type":"hello","token":"0000","rank":0,"size":4,"node":"n1","pid":1,"attempt":1}\n')
        send(b"\x00\xffGARBAGE not json\n")
        send(b"x" * 5000)
        send(b'{"type":"beat"}\n')
        flood = [socket.create_connection((host, int(port)), timeout=5) for _ in range(300)]
        for s in flood:
            s.close()

    thread = threading.Thread(target=intrude)
    thread.start()
    run = lazarus_run(setup, "intruders", ["-n", "4", "--local-nodes", "2", "--ranks-per-node", "2"], steps=4 * STEPS)
    thread.join()
    finished_bit_exact(setup, run, steps=4 * STEPS)
    check(not run.of("failure"), f"an intruder caused a failure: {run.of('failure')}")
    reasons = {e["reason"] for e in run.of("connection_rejected")}
    for expected in ("wrong token", "malformed first line", "first message is not a hello"):
        check(expected in reasons, f"no rejection for '{expected}': {reasons}")
    check(any(e["count"] >= 300 for e in run.of("connection_rejected")) or
          len(run.of("connection_rejected")) >= 5, "the flood was not reported")


def sigusr1_stops_with_a_final_checkpoint(setup):
    """SIGUSR1 to lazarus run (what `#SBATCH --signal=B:USR1@T` sends before a time limit): heat2d takes a
    final checkpoint and stops, the launcher ends with status 6; run again, the job continues from there."""
    job = "usr1"
    events_file = setup.work / job / "events.jsonl"
    options = ["-n", "4", "--local-nodes", "2", "--ranks-per-node", "2"]
    command = [setup.lazarus, "run", "--dir", str(setup.work), "--job", job, *options, "--", setup.heat2d,
               *HEAT2D_ARGS, "--steps", str(STEPS), "--pause-ms", "1"]
    shm_before = shm_entries()
    launcher = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    deadline = time.monotonic() + 60
    while not any(e["event"] == "checkpoint" and e["version"] >= 5 for e in read_events(events_file)):
        check(launcher.poll() is None and time.monotonic() < deadline, "the job ended or stalled before version 5")
        time.sleep(0.05)
    launcher.send_signal(signal.SIGUSR1)
    stdout, stderr = launcher.communicate(timeout=120)
    stopped = Run(launcher.returncode, stdout, stderr, read_events(events_file), 0)
    check_nothing_left(setup, job, shm_before, stopped)
    check(stopped.returncode == 6, f"expected exit status 6 (stopped)\n{stopped.explain()}")
    requested = stopped.of("stop_requested")
    check(requested and requested[0]["reason"] == "SIGUSR1 received", f"no stop_requested for SIGUSR1: {requested}")
    check(stopped.of("stopping") and stopped.of("stopped"), f"no stopping/stopped events\n{stopped.explain()}")
    check(stopped.of("summary")[-1]["outcome"] == "stopped", f"summary: {stopped.of('summary')}")
    final = re.search(r"^stopping at step (\d+) on the launcher's request \(final checkpoint version (\d+)\)$", stdout, re.M)
    check(final and int(final[1]) < STEPS, f"heat2d did not stop with a final checkpoint\n{stdout[-2000:]}")
    check(checksum_in(stdout) is None, "the stopped job printed a checksum")

    again = lazarus_run(setup, job, options, steps=STEPS)
    finished_bit_exact(setup, again)
    resumed = again.of("resumed")[-1]
    check(resumed["version"] == int(final[2]), f"resumed {resumed['version']}, not the final version {final[2]}")


CASES = {f.__name__: f for f in [rank_kill_restarts_bit_exact, node_kill_relaunches_on_spare,
                                 hang_is_detected_and_restarted, spares_exhausted, restarts_exhausted, no_progress,
                                 injected_faults_before_the_first_checkpoint_restart,
                                 usage_errors, heartbeat_channel_rejects_intruders,
                                 sigusr1_stops_with_a_final_checkpoint]}

if __name__ == "__main__":
    sys.exit(main(CASES))
