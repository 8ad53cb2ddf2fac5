"""Stopping on a signal, as clusters stop jobs: SIGTERM (scancel, preemption), SIGUSR2 (SLURM's warning before a
time limit) and SIGINT (Ctrl-C) each let the step in progress finish, save its resume state and end the process
with 128 + the signal's number. The learning curves gain no point off the schedule, and the run continued after
every stop ends with the weights of a run never stopped. Under torchrun, a signal to one process stops them all
after the same step."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import last_step, run_trainer, tiny_config_dict, trainer_command, write_config

from model_foundry.training.tracking import read_metrics

pytestmark = pytest.mark.integration

SCHEDULE = [0, 50, 100, 400]  # the checkpoints of a run of 400 steps


def config(ws: Path, name: str, steps: int = 400, **training) -> Path:
    d = tiny_config_dict(ws, train_steps=steps, warmup_steps=5, checkpoint_schedule=[s for s in SCHEDULE if s < steps]
                         + [steps], **training)
    d["training"]["output_dir"] = str(ws / name)
    d["logging"]["log_metrics_every_n_steps"] = 1
    return write_config(ws, d, name)


def stop_at(cmd: list, cwd: Path, run: Path, after_step: int, sig: int, pick=None) -> subprocess.CompletedProcess:
    "Start `cmd`, and once `run` has logged `after_step`, send `sig` to it (or to the process `pick` returns)."
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=True)
    deadline = time.time() + 300
    while last_step(run) < after_step and p.poll() is None and time.time() < deadline: time.sleep(0.02)
    assert p.poll() is None, f"the run ended before the signal: {p.stderr.read()[-3000:]}"
    os.kill(pick() if pick else p.pid, sig)
    try: out, err = p.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        pytest.fail(f"the run did not stop after {signal.Signals(sig).name}")
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def weights(checkpoint: Path) -> dict:
    from safetensors.torch import load_file
    return load_file(checkpoint / "model.safetensors")


def same_weights(a: Path, b: Path):
    import torch
    wa, wb = weights(a), weights(b)
    assert set(wa) == set(wb) and all(torch.equal(wa[k], wb[k]) for k in wa), f"{a} and {b} differ"


def test_each_stop_signal_saves_the_step_and_the_continued_run_is_the_uninterrupted_one(temp_workspace, tiny_corpus):
    ws = temp_workspace
    full, cut = config(ws, "full"), config(ws, "cut")
    assert run_trainer(full, cwd=ws).returncode == 0
    run, stops = ws / "cut", []
    for sig, after in ((signal.SIGTERM, 20), (signal.SIGUSR2, 120), (signal.SIGINT, 200)):
        r = stop_at(trainer_command(cut), ws, run, after, sig)
        name = signal.Signals(sig).name
        assert r.returncode == 128 + sig, (name, r.returncode, r.stderr[-3000:])
        said = [line for line in r.stderr.splitlines() if f"stopped by {name} at step" in line]
        assert len(said) == 1, r.stderr[-3000:]  # once, not a traceback
        assert "Traceback" not in r.stderr, r.stderr[-3000:]
        step = int(said[0].split(" at step ")[1].split(" of ")[0].replace(",", ""))
        assert step > after and step < 400
        meta = json.loads((run / f"checkpoint-{step}" / "metadata.json").read_text())
        assert meta["resumable"] and meta["unscheduled"] == (step not in SCHEDULE)
        assert last_step(run) == step  # the step it stopped at was finished, and nothing after it began
        stops.append(step)
        logged = (run / "logs").glob("*")
        assert any(f"stopped by {name} at step {step:,}" in p.read_text() for p in logged if p.is_file())
    r = run_trainer(cut, cwd=ws)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resuming from" in r.stderr
    # the unscheduled checkpoints are gone: the run holds the schedule's, as the uninterrupted one does
    assert sorted(p.name for p in run.glob("checkpoint-*")) == sorted(p.name for p in (ws / "full").glob("checkpoint-*"))
    same_weights(ws / "full" / "checkpoint-400", run / "checkpoint-400")
    key = lambda rows: [(r["step"], r.get("loss"), r.get("eval_loss")) for r in rows]
    assert key(read_metrics(run)) == key(read_metrics(ws / "full")), stops  # the same curve, no point added


def worker(launcher: int, rank: str) -> int:
    "The pid of the training process of `rank` that `launcher` (torchrun) started."
    for pid in os.listdir("/proc"):
        if not pid.isdigit(): continue
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError: continue
        if f"RANK={rank}".encode() in env and f"PPid:\t{launcher}\n" in status: return int(pid)
    raise AssertionError(f"no training process of rank {rank}")


@pytest.mark.slow
def test_under_torchrun_a_signal_to_one_process_stops_all_after_the_same_step(temp_workspace, tiny_corpus):
    ws = temp_workspace
    full, cut = config(ws, "full", steps=120), config(ws, "cut", steps=120)
    assert run_trainer(full, cwd=ws, processes=2).returncode == 0
    launcher = {}

    def second():  # the second process only: the first must learn of it from the second
        return worker(launcher["pid"], "1")

    cmd = trainer_command(cut, processes=2)
    p = subprocess.Popen(cmd, cwd=ws, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=True)
    launcher["pid"] = p.pid
    deadline = time.time() + 300
    while last_step(ws / "cut") < 20 and p.poll() is None and time.time() < deadline: time.sleep(0.02)
    os.kill(second(), signal.SIGTERM)
    try: _, err = p.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        pytest.fail("the processes did not stop together")
    assert p.returncode != 0
    stopped = [p for p in (ws / "cut").glob("checkpoint-*")
               if json.loads((p / "metadata.json").read_text()).get("unscheduled")]
    assert len(stopped) == 1, err[-3000:]
    step = int(stopped[0].name.split("-")[1])
    state = json.loads((stopped[0] / "trainer_state.json").read_text())["state"]
    assert state["world_size"] == 2 and last_step(ws / "cut") == step
    import torch
    saved = torch.load(stopped[0] / "training_state.pt", weights_only=False)
    assert len(saved["rank_random_states"]) == 2  # both processes gave their state at that step: they were there
    r = run_trainer(cut, cwd=ws, processes=2)
    assert r.returncode == 0, r.stderr[-3000:]
    same_weights(ws / "full" / "checkpoint-120", ws / "cut" / "checkpoint-120")
    assert not (ws / "cut" / stopped[0].name).exists()
