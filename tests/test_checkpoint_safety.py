"""A run's checkpoints under attack: damaged ones (truncated, bit-flipped, a file missing) are reported and skipped,
and the run falls back to the newest intact one; a crafted pickle is refused without running it; two processes
never train in one run folder; a changed config continues a run only when asked to."""
import json
import os
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
import yaml
from conftest import PY, files_under, run_cli, tiny_config_dict, trainer_command, write_config
from safetensors.torch import load_file

from model_foundry.config import ExperimentConfig
from model_foundry.helpers import sha256_file
from model_foundry.training.checkpointing import METADATA, TRAINING_STATE, CheckpointManager, read_metadata

pytestmark = pytest.mark.integration
OWN = {".lock", "metrics.jsonl", "environment.json", "config.yaml", "train.log"}  # what every start of a run writes


def untouched(run: Path, but: str = "") -> dict:
    "The files of a run that a start must leave alone (its own bookkeeping aside, and the folder `but`)."
    return {k: v for k, v in files_under(run, ignore=OWN).items() if not (but and k.startswith(but))}


def config(ws: Path, **training) -> Path:
    "The tiny experiment's config, its console quiet."
    d = tiny_config_dict(ws, **training)
    d["logging"]["console_level"] = "WARNING"
    return write_config(ws, d)


def train(ws: Path, *args):
    "`model-foundry train` on the workspace's config."
    return run_cli("train", ws / "configs" / "exp.yaml", *args, cwd=ws, timeout=300)


@pytest.fixture
def finished_run(temp_workspace, tiny_corpus):
    "A finished 20-step run (checkpoints 0, 5, 10, 20), and the weights of its last checkpoint."
    config(temp_workspace)
    r = train(temp_workspace)  # the same command (and threads) as the reruns: CPU results are bit-identical
    assert r.returncode == 0, r.stderr
    run = temp_workspace / "run"
    final = {k: v.clone() for k, v in load_file(run / "checkpoint-20" / "model.safetensors").items()}  # not mmapped
    return temp_workspace, run, final


def truncate(f: Path): f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
def flip_bit(f: Path):
    b = bytearray(f.read_bytes()); b[len(b) // 2] ^= 0x10; f.write_bytes(bytes(b))


DAMAGE = {  # how, to which file of the newest checkpoint, and what the report says about it
    "truncated": (truncate, "model.safetensors", "model.safetensors does not match its SHA-256"),
    "bit-flipped": (flip_bit, TRAINING_STATE, "training_state.pt does not match its SHA-256"),
    "missing file": (lambda f: f.unlink(), "tokenizer.json", "tokenizer.json is missing"),
    "metadata cut": (truncate, METADATA, "metadata.json in"),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_a_damaged_checkpoint_is_reported_skipped_and_the_run_falls_back(finished_run, kind):
    ws, run, final = finished_run
    how, name, report = DAMAGE[kind]
    how(run / "checkpoint-20" / name)  # the newest checkpoint, damaged after it was written
    assert CheckpointManager(ExperimentConfig(**tiny_config_dict(ws)), ws).verify(run / "checkpoint-20")
    before = untouched(run, but="checkpoint-20")
    r = train(ws)
    assert r.returncode == 0, r.stderr
    log = (run / "logs" / "train.log").read_text()
    assert f"skipping damaged checkpoint {run / 'checkpoint-20'}" in log and report in log
    # the fall-back: checkpoint-10, the older of the two kept whole, continued to the same end
    assert f"resuming from {run / 'checkpoint-10'}" in log
    again = load_file(run / "checkpoint-20" / "model.safetensors")
    assert all(torch.equal(final[k], again[k]) for k in final)
    assert CheckpointManager(ExperimentConfig(**tiny_config_dict(ws)), ws).verify(run / "checkpoint-20") == []
    assert untouched(run, but="checkpoint-20") == before  # nothing else was touched


def test_a_crafted_pickle_is_refused_and_never_runs(finished_run):
    ws, run, _ = finished_run
    shutil.rmtree(run / "checkpoint-20")
    ckpt = run / "checkpoint-10"
    marker = ws / "pwned"
    payload = (f"import os, torch\n"
               f"class P:\n    def __reduce__(self): return (os.system, ({'touch ' + shlex.quote(str(marker))!r},))\n"
               f"torch.save({{'optimizer': P()}}, {str(ckpt / TRAINING_STATE)!r})\n")
    subprocess.run([PY, "-c", payload], check=True)
    meta = read_metadata(ckpt)  # the hashes rewritten to match: only the loader stands in the way
    meta["files"][TRAINING_STATE] = sha256_file(ckpt / TRAINING_STATE)
    (ckpt / METADATA).write_text(json.dumps(meta))
    before = untouched(run)
    r = train(ws)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "holds objects other than tensors and plain data" in r.stderr and "refusing to load it" in r.stderr
    assert not marker.exists()
    assert untouched(run) == before


def test_weights_are_read_from_safetensors_only(finished_run):
    ws, run, _ = finished_run
    shutil.rmtree(run / "checkpoint-20")
    ckpt = run / "checkpoint-10"
    (ckpt / "model.safetensors").unlink()
    marker = ws / "pwned"
    payload = (f"import os, torch\n"
               f"class P:\n    def __reduce__(self): return (os.system, ({'touch ' + shlex.quote(str(marker))!r},))\n"
               f"torch.save({{'transformer.wte.weight': P()}}, {str(ckpt / 'pytorch_model.bin')!r})\n")
    subprocess.run([PY, "-c", payload], check=True)
    meta = read_metadata(ckpt)
    meta["files"] = {f: sha256_file(ckpt / f) for f in [*meta["files"], "pytorch_model.bin"] if (ckpt / f).exists()}
    (ckpt / METADATA).write_text(json.dumps(meta))
    r = train(ws)
    assert r.returncode == 2 and "never from pickle files" in r.stderr, r.stderr
    assert not marker.exists()


def test_a_second_process_on_the_same_run_folder_is_refused(temp_workspace, tiny_corpus):
    ws = temp_workspace
    cfg = config(ws, train_steps=100000, checkpoint_schedule=[0])  # long enough to still run while we look
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen(trainer_command(cfg), cwd=ws, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not (ws / "run" / "checkpoint-0").exists() and time.time() < deadline: time.sleep(0.1)
        assert (ws / "run" / "checkpoint-0").exists(), "the first run did not start"
        r = train(ws)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert f"is in use by process {first.pid}" in r.stderr
    finally:
        first.send_signal(signal.SIGKILL); first.wait()
    # a killed process leaves no lock behind: the next start continues the run (here: from checkpoint-0)
    p = subprocess.Popen(trainer_command(cfg), cwd=ws, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and p.poll() is None and "resuming from" not in (
                ws / "run" / "logs" / "train.log").read_text(): time.sleep(0.2)
        assert p.poll() is None, p.stderr.read()
        assert f"resuming from {ws / 'run' / 'checkpoint-0'}" in (ws / "run" / "logs" / "train.log").read_text()
    finally:
        p.send_signal(signal.SIGKILL); p.wait()


def test_a_changed_config_continues_a_run_only_when_asked(finished_run):
    ws, run, _ = finished_run
    config(ws, train_steps=30, checkpoint_schedule=[0, 5, 10, 20, 30])
    before = untouched(run)
    r = train(ws)
    assert r.returncode == 2 and "--allow-config-change" in r.stderr, r.stderr
    assert "training.checkpoint_schedule" in r.stderr and "training.train_steps: 20 -> 30" in r.stderr
    assert untouched(run) == before
    r = train(ws, "--allow-config-change")
    assert r.returncode == 0, r.stderr
    assert (run / "checkpoint-30").is_dir() and read_metadata(run / "checkpoint-30")["global_step"] == 30
    kept = list((run / "config_history").iterdir())
    assert len(kept) == 1 and yaml.safe_load(kept[0].read_text())["training"]["train_steps"] == 20
    assert yaml.safe_load((run / "config.yaml").read_text())["training"]["train_steps"] == 30
    assert train(ws).returncode == 0  # the run's config is the new one now: no flag needed
