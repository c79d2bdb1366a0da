"""A real Slurm cluster on this machine, for the tests: munge, slurmctld and several slurmd "nodes"
(`slurmd -N nX`), each with its own port, spool folder and TmpFS (Slurm's PMIx plugin keeps per-step
files under TmpFS, which must differ between nodes that share one host).

Everything lives under one root folder; every daemon runs with SLURM_CONF pointing into it, and the
job processes inherit it (slurmd gives its tasks its own SLURM_CONF), which is how `stop()` and
`kill_node()` find them. `stop()` leaves no process behind, also after a failed test.

Usage as a program (for trying things by hand):
  slurm_cluster.py start ROOT [NODES]   starts a cluster and prints the SLURM_CONF to export
  slurm_cluster.py stop ROOT            stops it and removes ROOT"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_ports(count):
    """Ports the system hands out now; closed again at once (the daemons bind them right after)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def processes_with(variable, value_prefix):
    """Live processes whose environment has `variable` starting with `value_prefix`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().split(")")[-1].split()[0] == "Z":
                continue  # a zombie is gone already; its parent reaps it
            environment = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue  # ended meanwhile, or not ours to read
        prefix = f"{variable}={value_prefix}".encode()
        if any(item.startswith(prefix) for item in environment):
            found.append(int(entry.name))
    return found


class SlurmCluster:
    def __init__(self, root, nodes=5, cpus_per_node=4, slurmd_timeout=300):
        self.root = Path(root).resolve()
        self.node_names = [f"n{i}" for i in range(1, nodes + 1)]
        self.cpus_per_node = cpus_per_node
        self.slurmd_timeout = slurmd_timeout
        self.conf = self.root / "slurm.conf"
        self.started = False

    # ---- paths -------------------------------------------------------------------------------
    def node_conf(self, node):
        return self.root / f"slurm-{node}.conf"

    def tmpfs(self, node):
        return self.root / "tmpfs" / node

    def env(self, extra=None):
        """The environment for Slurm commands and jobs: this cluster's configuration, and Open MPI
        over TCP (nodes that share a host must not share memory segments)."""
        env = dict(os.environ)
        # Several ranks share each core: MPI must yield while it waits, or a step crawls.
        env.update({"SLURM_CONF": str(self.conf), "OMPI_MCA_btl": "self,tcp", "OMPI_MCA_mpi_yield_when_idle": "1",
                    "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"})
        env.update(extra or {})
        return env

    def command(self, args, timeout=30, check=True):
        result = subprocess.run(args, env=self.env(), capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, args))} failed ({result.returncode}): {result.stderr.strip()}")
        return result

    # ---- start and stop ----------------------------------------------------------------------
    def start(self):
        if self.root.exists():
            shutil.rmtree(self.root)
        for folder in ("state", "log", "spool", "munge", "tmpfs"):
            (self.root / folder).mkdir(parents=True)
        self.started = True
        self._start_munge()
        ports = free_ports(1 + len(self.node_names))
        self._write_configuration(ports)
        self._daemon(["slurmctld", "-f", str(self.conf)])
        for node in self.node_names:
            (self.root / "spool" / node).mkdir()
            self.tmpfs(node).mkdir()
            self._daemon(["slurmd", "-f", str(self.node_conf(node)), "-N", node])
        self._wait_until_idle()

    def _start_munge(self):
        munge = self.root / "munge"
        munge.chmod(0o700)
        key = munge / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        subprocess.run(["munged", f"--key-file={key}", f"--socket={munge / 'munge.sock'}",
                        f"--pid-file={munge / 'munged.pid'}", f"--log-file={munge / 'munged.log'}",
                        f"--seed-file={munge / 'seed'}", "--force"], check=True, env=self.env())

    def _write_configuration(self, ports):
        host = socket.gethostname()
        r = self.root
        lines = [
            "ClusterName=lazarustest",
            f"SlurmctldHost={host}(127.0.0.1)",
            f"SlurmctldPort={ports[0]}",
            "SlurmUser=root", "SlurmdUser=root",
            "AuthType=auth/munge", f"AuthInfo=socket={r / 'munge' / 'munge.sock'}", "CredType=cred/munge",
            f"StateSaveLocation={r / 'state'}", f"SlurmdSpoolDir={r / 'spool'}/%n",
            f"SlurmctldPidFile={r / 'slurmctld.pid'}", f"SlurmdPidFile={r}/slurmd-%n.pid",
            f"SlurmctldLogFile={r / 'log' / 'slurmctld.log'}", f"SlurmdLogFile={r / 'log'}/slurmd-%n.log",
            # No cgroups in a container: processes are tracked by parentage.
            "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
            "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core", "SchedulerType=sched/backfill",
            "MpiDefault=pmix", "ReturnToService=2", f"SlurmdTimeout={self.slurmd_timeout}",
            "InactiveLimit=0", "KillWait=5", "MinJobAge=600",
            "JobAcctGatherType=jobacct_gather/none", "AccountingStorageType=accounting_storage/none",
            # The nodes claim more CPUs than the host has; the per-node TmpFS lines differ on purpose.
            "SlurmdParameters=config_overrides", "DebugFlags=NO_CONF_HASH",
        ]
        for node, port in zip(self.node_names, ports[1:]):
            lines.append(f"NodeName={node} NodeHostname={host} NodeAddr=127.0.0.1 Port={port} "
                         f"CPUs={self.cpus_per_node} RealMemory=2000 State=UNKNOWN")
        lines.append(f"PartitionName=debug Nodes={','.join(self.node_names)} Default=YES MaxTime=INFINITE State=UP")
        text = "\n".join(lines) + "\n"
        self.conf.write_text(text)
        for node in self.node_names:
            self.node_conf(node).write_text(text + f"TmpFS={self.tmpfs(node)}\n")

    def _daemon(self, args):
        # The daemons fork into the background themselves; a failure to start shows in the exit status.
        subprocess.run(args, check=True, env=self.env(), timeout=30)

    def _wait_until_idle(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.command(["sinfo", "-h", "-N", "-o", "%N %T"], check=False)
            states = dict(line.split() for line in result.stdout.splitlines() if line.strip())
            if result.returncode == 0 and all(states.get(n, "").startswith("idle") for n in self.node_names):
                return
            time.sleep(0.3)
        raise RuntimeError(f"the Slurm nodes did not become idle: {result.stdout}{result.stderr}")

    def processes(self):
        """Every live process of this cluster: daemons, slurmstepd, batch scripts, tasks."""
        return processes_with("SLURM_CONF", str(self.root) + "/")

    def stop(self):
        """Stops every daemon and kills every job process; leaves no process behind. Returns the
        processes that survived (normally none)."""
        if not self.started:
            return []
        munged = self.root / "munge" / "munged.pid"
        # Jobs first (their processes carry the cluster's SLURM_CONF), then the daemons.
        for _ in range(3):
            pids = self.processes()
            if munged.exists():
                try:
                    pids.append(int(munged.read_text()))
                except ValueError:
                    pass
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        survivors = self.processes()
        shutil.rmtree(self.root, ignore_errors=True)
        self.started = False
        return survivors

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # ---- jobs and faults ---------------------------------------------------------------------
    def sbatch(self, args, extra_env=None):
        """Submits a batch job; returns its id."""
        result = subprocess.run(["sbatch", "--parsable", *map(str, args)], env=self.env(extra_env),
                                capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise RuntimeError(f"sbatch failed: {result.stderr}")
        return int(result.stdout.strip().split(";")[0])

    def job_state(self, job):
        return self.job_field(job, "JobState") or "UNKNOWN"

    def job_field(self, job, name):
        """One `Name=value` field of `scontrol show job` (None when the job or the field is unknown)."""
        result = self.command(["scontrol", "show", "job", "-o", str(job)], check=False)
        for field in result.stdout.split():
            if field.startswith(name + "="):
                return field.split("=", 1)[1]
        return None

    def wait_job(self, job, timeout):
        """Waits for the job's batch script to end; returns the job's state then (COMPLETED, FAILED,
        TIMEOUT, ... or COMPLETING: a job that used a dead node stays so until Slurm marks the node
        down, after SlurmdTimeout; its exit code is known already)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.job_state(job)
            if state not in ("PENDING", "RUNNING", "CONFIGURING", "UNKNOWN"):
                return state
            time.sleep(0.5)
        raise TimeoutError(f"job {job} still {self.job_state(job)} after {timeout} s")

    def kill_node(self, node):
        """What a node's crash does: its slurmd and every process of its jobs die (SIGKILL), and its
        local storage (TmpFS) is gone. Slurm itself notices only after SlurmdTimeout."""
        pid_file = self.root / f"slurmd-{node}.pid"
        pids = processes_with("SLURM_CONF", str(self.node_conf(node)))
        if pid_file.exists():
            pids.append(int(pid_file.read_text()))
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.tmpfs(node), ignore_errors=True)
        return pids


def main(argv):
    if len(argv) >= 3 and argv[1] == "start":
        cluster = SlurmCluster(argv[2], nodes=int(argv[3]) if len(argv) > 3 else 5)
        cluster.start()
        print(f"export SLURM_CONF={cluster.conf} OMPI_MCA_btl=self,tcp")
        return 0
    if len(argv) == 3 and argv[1] == "stop":
        cluster = SlurmCluster(argv[2])
        cluster.started = True
        survivors = cluster.stop()
        print(f"stopped; {len(survivors)} processes survived")
        return 1 if survivors else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
