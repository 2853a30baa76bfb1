"""The bundled example on a real one-node SLURM 22.05 (marker ``cluster``).

A module fixture starts SLURM with ../shared/tools/start-slurm.sh (Debian's slurm-wlm +
munge; needs root and apt when they are missing) and stops it with stop-slurm.sh, which
kills the daemons by their PID files. The runs are the README's cluster commands:

    snakemake --profile profiles/slurm --configfile study.yaml
    snakemake --profile profiles/cluster-generic --configfile study.yaml

and their table outputs must equal a local run's (``--cores 2``). What the scheduler was asked
for per job (memory, time limit) is read back from ``squeue -t all`` after each run (finished
jobs stay visible for MinJobAge = 600 s; there is no accounting daemon) and printed (``-s``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from outputs import assert_same_tables
from test_workflow import BIN, REPO_ROOT, example_config, run_snakemake, write_config

SHARED_TOOLS = Path(os.environ.get("DGEFLOW_SHARED_TOOLS", REPO_ROOT.parent / "shared" / "tools"))
PID_FILES = [Path("/run/slurmd.pid"), Path("/run/slurmctld.pid"), Path("/run/munge/munged.pid")]
PLUGINS = {
    "slurm": "snakemake_executor_plugin_slurm",
    "cluster-generic": "snakemake_executor_plugin_cluster_generic",
}
pytestmark = [pytest.mark.cluster, pytest.mark.workflow]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def daemon_pids() -> dict[str, int]:
    pids = {}
    for f in PID_FILES:
        if f.is_file() and f.read_text().strip().isdigit():
            pids[f.name] = int(f.read_text().strip())
    return pids


@pytest.fixture(scope="module")
def slurm():
    """A running one-node SLURM, stopped afterwards by stop-slurm.sh if this fixture started it."""
    start, stop = SHARED_TOOLS / "start-slurm.sh", SHARED_TOOLS / "stop-slurm.sh"
    if not (start.is_file() and stop.is_file()):
        pytest.skip(f"SLURM tools not found at {SHARED_TOOLS} (clone with ../shared beside it)")
    if os.geteuid() != 0:
        pytest.skip("start-slurm.sh needs root (it writes /etc/slurm and starts the daemons)")
    if shutil.which("slurmctld") is None and shutil.which("apt-get") is None:
        pytest.skip("slurm-wlm is not installed and apt-get is unavailable to install it")
    missing = [extra for extra, mod in PLUGINS.items() if importlib.util.find_spec(mod) is None]
    if missing:
        pytest.skip(f"executor plugins missing: pip install -e '.[{','.join(missing)}]'")
    already = {n: p for n, p in daemon_pids().items() if pid_alive(p)}
    if already:
        # someone else's cluster: use it, leave it running
        yield {"started": False}
        return
    proc = subprocess.run(["bash", str(start)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    pids = daemon_pids()
    print(f"\n[slurm] started by {start}: {pids}")
    assert set(pids) == {f.name for f in PID_FILES}, pids
    try:
        yield {"started": True, "pids": pids}
    finally:
        subprocess.run(["bash", str(stop)], capture_output=True, text=True, timeout=120)
        alive = {name: pid for name, pid in pids.items() if pid_alive(pid)}
        assert not alive, f"daemons still running after stop-slurm.sh: {alive}"
        print(f"\n[slurm] stopped by their PID files: {pids}")


def squeue(*args: str) -> list[list[str]]:
    out = subprocess.run(
        ["squeue", "-h", *args], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return [line.split("|") for line in out.splitlines() if line.strip()]


def job_ids() -> set[str]:
    return {row[0] for row in squeue("-t", "all", "-o", "%i")}


def scheduler_requests(before: set[str], label: str) -> list[dict]:
    """Per job of a run (ids not in ``before``): its rule, requested memory and time limit."""
    jobs = []
    for jobid, name, comment, mem, limit, state in squeue("-t", "all", "-o", "%i|%j|%k|%m|%l|%T"):
        if jobid in before:
            continue
        # the slurm plugin names jobs by run UUID and puts "rule_<name>[_wildcards_..]" in the
        # comment; the cluster-generic profile names them dgeflow-<rule>
        rule = name.removeprefix("dgeflow-") if name.startswith("dgeflow-") else comment
        jobs.append({"id": jobid, "rule": rule, "mem": mem, "time": limit, "state": state})
    jobs.sort(key=lambda j: int(j["id"]))
    print(f"\n[{label}] what the scheduler was asked for ({len(jobs)} jobs):")
    for j in jobs:
        row = f"{j['id']:>5}  {j['rule']:<60} mem={j['mem']:<7} time={j['time']:<8}"
        print(f"  {row} {j['state']}")
    return jobs


def study(tmp: Path, name: str) -> tuple[Path, Path]:
    outdir = tmp / name
    return outdir, write_config(tmp / f"{name}.yaml", example_config(outdir))


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    outdir, config = study(tmp_path_factory.mktemp("cluster"), "local")
    t0 = time.monotonic()
    proc = run_snakemake("--cores", "2", "--configfile", str(config))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    print(f"\n[local] example in {time.monotonic() - t0:.0f} s")
    return outdir


def run_profile(profile: str, config: Path, label: str, *extra: str) -> list[dict]:
    before = job_ids()
    t0 = time.monotonic()
    proc = run_snakemake("--profile", f"profiles/{profile}", "--configfile", str(config), *extra)
    print(f"\n[{label}] snakemake --profile profiles/{profile}: {time.monotonic() - t0:.0f} s")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return scheduler_requests(before, label)


def check_requests(jobs: list[dict]) -> None:
    rules = {j["rule"] for j in jobs}
    assert any("validate" in r for r in rules) and any("de_fit" in r for r in rules), rules
    assert all(j["state"] == "COMPLETED" for j in jobs), jobs
    # the rules' own mem_mb/runtime (workflow/rules/common.smk) reach the scheduler, not
    # only the profile's default-resources
    assert {(j["mem"], j["time"]) for j in jobs} - {("1000M", "30:00")}, jobs


def test_slurm_profile_matches_local(slurm, local_run, tmp_path):
    outdir, config = study(tmp_path, "slurm")
    check_requests(run_profile("slurm", config, "slurm"))
    assert_same_tables(local_run, outdir)


@pytest.mark.parametrize("profile", ["slurm", "cluster-generic"])
def test_scancel_then_resume(slurm, local_run, tmp_path, profile):
    outdir, config = study(tmp_path, "scancel")
    # --retries 0: the profile's retries: 1 would resubmit the cancelled job within the same
    # run (with twice the mem_mb and runtime); without it the run stops and is resumed
    cmd = ["--profile", f"profiles/{profile}", "--configfile", str(config), "--retries", "0"]
    before = job_ids()
    t0 = time.monotonic()
    log = tmp_path / "first-run.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [str(BIN / "snakemake"), *cmd], cwd=REPO_ROOT, stdout=fh, stderr=subprocess.STDOUT
        )
    cancelled = None
    try:
        # cancel a running job after validate (so other jobs run beside it); if it finished
        # between squeue and scancel, try the next one
        while cancelled is None and proc.poll() is None and time.monotonic() - t0 < 900:
            for jobid, name, comment in squeue("-t", "RUNNING", "-o", "%i|%j|%k"):
                # the slurm plugin puts the rule in the comment, cluster-generic in the name
                rule = name.removeprefix("dgeflow-") if name.startswith("dgeflow-") else comment
                if jobid in before or rule in ("rule_validate", "validate"):
                    continue
                subprocess.run(["scancel", jobid], check=False, timeout=60)
                time.sleep(1)
                state = squeue("-t", "all", "-j", jobid, "-o", "%T")
                if state and state[0][0] == "CANCELLED":
                    cancelled = (jobid, rule)
                    break
                before.add(jobid)
            time.sleep(0.5)
        rc = proc.wait(timeout=1800)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = log.read_text()
    print(
        f"\n[scancel] cancelled job {cancelled}; first run rc={rc} after "
        f"{time.monotonic() - t0:.0f} s"
    )
    assert cancelled is not None, out[-4000:]
    # snakemake reports the cancelled job as failed, waits for the running ones and stops
    base_rule = cancelled[1].removeprefix("rule_").split("_wildcards_")[0]
    assert rc != 0 and f"Error in rule {base_rule}" in out, out[-4000:]
    scheduler_requests(before, "scancel first run")
    # the same command again resumes: the cancelled rule (and what depends on it) runs again
    jobs = run_profile(profile, config, "scancel rerun", *cmd[4:])
    print(f"[scancel] total {time.monotonic() - t0:.0f} s")
    assert cancelled[1] in {j["rule"] for j in jobs}, jobs
    assert_same_tables(local_run, outdir)


def test_cluster_generic_profile_matches_local(slurm, local_run, tmp_path):
    outdir, config = study(tmp_path, "cluster-generic")
    check_requests(run_profile("cluster-generic", config, "cluster-generic"))
    assert_same_tables(local_run, outdir)
