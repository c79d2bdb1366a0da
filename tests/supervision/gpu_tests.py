"""heat2d_cuda (field in GPU memory, protect_device) under `lazarus run`: killed part way (a rank, then
a node) and relaunched, it must finish bit-identical to an uninterrupted run. Exits 77 (skipped),
saying why, where no CUDA device is usable.
Usage: gpu_tests.py LAZARUS HEAT2D_CUDA MPIEXEC CASE"""
import os
import shutil
import subprocess
import sys

from harness import check, checksum_in, lazarus_run, main

ARGS = ["--n", "512", "--steps", "3000", "--checkpoint-every", "100"]


def device_usable():
    if shutil.which("nvidia-smi") is None:
        return False
    probe = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
    return probe.returncode == 0 and "GPU" in probe.stdout


def heat2d_cuda_kill_and_relaunch_bit_exact(setup):
    env = dict(os.environ, OMPI_MCA_btl_vader_backing_directory=str(setup.work))
    reference = subprocess.run([setup.mpiexec, "-n", "4", setup.heat2d, *ARGS, "--dir", str(setup.work / "ref"),
                                "--job", "ref"], capture_output=True, text=True, timeout=300, env=env)
    check(reference.returncode == 0, f"reference run failed: {reference.stderr[-2000:]}")
    expected = checksum_in(reference.stdout)
    run = lazarus_run(setup, "gpu", ["-n", "4", "--local-nodes", "3", "--ranks-per-node", "2", "--spares", "1",
                                     "--inject", "kill rank=1 after-checkpoint=8",
                                     "--inject", "kill node=n2 after-checkpoint=20"],
                      program=[setup.heat2d, *ARGS])
    check(run.returncode == 0, f"the job did not finish\n{run.explain()}")
    check(checksum_in(run.stdout) == expected, f"checksum differs from the uninterrupted run's {expected}\n{run.explain()}")
    resumed = [e for e in run.of("resumed") if e["attempt"] > 1]
    check(len(resumed) == 2 and all(e["version"] > 0 for e in resumed), f"bad resumes: {resumed}")


CASES = {f.__name__: f for f in [heat2d_cuda_kill_and_relaunch_bit_exact]}

if __name__ == "__main__":
    if not device_usable():
        print("SKIP: no usable CUDA device (nvidia-smi lists no GPU): heat2d_cuda needs one")
        sys.exit(77)
    sys.exit(main(CASES))
