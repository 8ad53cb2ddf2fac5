"""Studies on a real SLURM cluster: the one-node cluster of `tools/slurm_cluster.sh` (started here when it is not
running and this is root; `.ci/run` starts it). The runs go as one job array with its parallelism; a run whose time
limit is shorter than its training is signalled, saves, is requeued and ends bit-identical to an uninterrupted run;
a run cancelled with `scancel` continues on the next `study run`. Skipped, with the reason, only where slurmctld
cannot start (in CI that fails instead)."""
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, run_cli, run_trainer, tiny_config_dict, write_config

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1500)]


def _cluster_up() -> bool:
    if not shutil.which("sinfo"): return False
    r = subprocess.run(["sinfo", "--noheader", "--format=%t"], capture_output=True, text=True, timeout=30)
    return r.returncode == 0 and any(s.strip() in ("idle", "mix", "alloc") for s in r.stdout.split())


@pytest.fixture(scope="session")
def slurm_cluster():
    "A SLURM cluster that takes jobs (the one-node cluster started by tools/slurm_cluster.sh, if need be)."
    why = None
    if not _cluster_up():
        if os.geteuid() != 0: why = "no SLURM cluster is up, and only root can start one (tools/slurm_cluster.sh start)"
        else:
            r = subprocess.run([str(ROOT / "tools" / "slurm_cluster.sh"), "start"], capture_output=True, text=True,
                               timeout=900)
            if r.returncode != 0 or not _cluster_up(): why = f"slurmctld cannot start here: {r.stderr.strip()[-500:]}"
    if why:
        if os.environ.get("CI"): pytest.fail(why)  # CI has what it takes: a skip there would hide a failure
        pytest.skip(why)


def tiny(ws: Path, steps: int, schedule: list) -> Path:
    "The tiny experiment with `steps` steps, a model small enough that a step takes a few milliseconds."
    d = tiny_config_dict(ws, train_steps=steps, warmup_steps=10, checkpoint_schedule=schedule)
    d["model"].update(layers=1, embedding_size=16, hidden_size=16, intermediate_hidden_size=32, attention_heads=2)
    d["logging"].update(log_metrics_every_n_steps=50, console_level="WARNING")
    return write_config(ws, d)


def study(ws: Path, name: str, seeds: list, slurm: dict, conditions=None) -> Path:
    d = {"study_name": name, "base": "configs/exp.yaml", "baseline": "baseline", "seeds": seeds,
         "conditions": conditions or {"baseline": {}},
         "launch": {"backend": "slurm", "retries": 0, "slurm": {"cpus_per_task": 1, **slurm}}}
    path = ws / f"{name}.yaml"
    path.write_text(yaml.safe_dump(d, sort_keys=False))
    return path


def weights(checkpoint: Path) -> dict:
    from safetensors.torch import load_file
    return load_file(checkpoint / "model.safetensors")


def same_weights(a: Path, b: Path) -> bool:
    import torch
    wa, wb = weights(a), weights(b)
    return set(wa) == set(wb) and all(torch.equal(wa[k], wb[k]) for k in wa)


def launch_record(ws: Path, name: str) -> dict:
    return json.loads((ws / "studies" / name / "launch.json").read_text())


def test_a_study_is_one_job_array_run_with_its_parallelism(slurm_cluster, temp_workspace, tiny_corpus):
    ws = temp_workspace
    tiny(ws, steps=600, schedule=[0, 300, 600])
    path = study(ws, "array", seeds=[0, 1], slurm={"array_parallelism": 2, "time_minutes": 10},
                 conditions={"baseline": {}, "fast": {"set": {"training.learning_rate": 1.0e-2}}})
    running, done = [], threading.Event()

    def watch():  # how many of the study's jobs run at once, as squeue sees them
        while not done.is_set():
            out = subprocess.run(["squeue", "--noheader", "--array", "--name=foundry-array", "--format=%T"],
                                 capture_output=True, text=True).stdout
            running.append(out.split().count("RUNNING"))
            time.sleep(0.5)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try: r = run_cli("study", "run", str(path), cwd=ws, timeout=900)
    finally: done.set(); watcher.join()
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1] == "4 done (of 4 runs)", r.stdout
    record = launch_record(ws, "array")
    arrays = {v["slurm_job"].split("_")[0] for v in record.values()}
    assert len(arrays) == 1, record  # one array, a task per run
    script = next((ws / "studies" / "array" / "jobs").rglob("*_submission.sh")).read_text()
    for line in ("#SBATCH --array=0-3%2", "#SBATCH --requeue", "#SBATCH --cpus-per-task=1", "#SBATCH --time=10",
                 "#SBATCH --signal=USR2@120"):
        assert line in script, script
    assert max(running) == 2, running  # two at a time: the array's parallelism, on a node with two CPUs
    again = run_cli("study", "run", str(path), cwd=ws)
    assert again.returncode == 0 and "nothing to do: all 4 runs are done" in again.stdout, again.stdout


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    "The long run of the two tests below, trained on this machine without a stop: its last checkpoint."
    from model_foundry.synthetic import write_corpus
    ws = tmp_path_factory.mktemp("reference")
    write_corpus(ws / "corpus", n_train=1500, n_dev=50, n_test=200, n_pairs=20, seed=0)
    cfg = long_run(ws)
    r = run_trainer(cfg, cwd=ws)
    assert r.returncode == 0, r.stderr[-3000:]
    return ws / "run" / "checkpoint-9000"


def long_run(ws: Path) -> Path:
    "A run of about a minute and a half on one core: longer than a one-minute job."
    return tiny(ws, steps=9000, schedule=[0, 1000, 4000, 9000])


def test_a_run_longer_than_its_time_limit_is_signalled_saved_requeued_and_the_same(slurm_cluster, uninterrupted,
                                                                                     temp_workspace, tiny_corpus):
    ws = temp_workspace
    long_run(ws)
    # SLURM looks at time limits every 30 s: with a one-minute limit and SIGUSR2 5 s before it, the signal comes
    # 25 to 55 s into each job, and the requeued job starts 11 s later (cred_expire in tools/slurm_cluster.sh)
    path = study(ws, "limited", seeds=[0], slurm={"time_minutes": 1, "signal_delay_s": 5})
    r = run_cli("study", "run", str(path), cwd=ws, timeout=1200)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1] == "1 done (of 1 runs)", r.stdout
    run = ws / "studies" / "limited" / "runs" / "baseline-seed0"
    logs = "".join(p.read_text() for p in (run / "logs").glob("*") if p.is_file())
    assert "stopped by SIGUSR2 at step" in logs and "resuming from" in logs, logs[-3000:]
    jobs = "".join(p.read_text() for p in (ws / "studies" / "limited" / "jobs").rglob("*.out"))
    assert "Requeued job" in jobs, jobs[-3000:]
    assert sorted(p.name for p in run.glob("checkpoint-*")) == [f"checkpoint-{s}" for s in (0, 1000, 4000, 9000)]
    assert same_weights(uninterrupted, run / "checkpoint-9000")


def test_a_cancelled_run_continues_on_the_next_study_run(slurm_cluster, uninterrupted, temp_workspace, tiny_corpus):
    ws = temp_workspace
    long_run(ws)
    path = study(ws, "cancelled", seeds=[0], slurm={"time_minutes": 30})
    r = run_cli("study", "run", str(path), "--no-wait", cwd=ws)
    assert r.returncode == 0, r.stdout + r.stderr
    job = launch_record(ws, "cancelled")["baseline-seed0"]["slurm_job"]
    run = ws / "studies" / "cancelled" / "runs" / "baseline-seed0"
    deadline = time.time() + 300
    while not (run / "checkpoint-1000").exists() and time.time() < deadline: time.sleep(0.1)
    assert (run / "checkpoint-1000").exists(), "the job did not train"
    status = run_cli("study", "status", str(path), cwd=ws)
    assert status.stdout.splitlines()[1].split()[:2] == ["baseline-seed0", "running"], status.stdout
    subprocess.run(["scancel", job], check=True)
    while subprocess.run(["squeue", "--noheader", "--jobs", job], capture_output=True, text=True).stdout.strip():
        assert time.time() < deadline, "the cancelled job stayed in the queue"
        time.sleep(0.5)
    status = run_cli("study", "status", str(path), cwd=ws)
    # saved where the signal stopped it: preempted (interrupted, were that a step of the schedule)
    assert status.stdout.splitlines()[1].split()[1] in ("preempted", "interrupted"), status.stdout
    again = run_cli("study", "run", str(path), cwd=ws, timeout=900)
    assert again.returncode == 0 and again.stdout.splitlines()[-1] == "1 done (of 1 runs)", again.stdout + again.stderr
    logs = "".join(p.read_text() for p in (run / "logs").glob("*") if p.is_file())
    assert "stopped by SIGTERM at step" in logs and "resuming from" in logs, logs[-3000:]
    assert same_weights(uninterrupted, run / "checkpoint-9000")
