"""The run directory is never lost or overwritten: foreign folders are refused, damaged checkpoints never make a run
start over, and mistakes found on disk end before anything is written."""
import json
import shutil
from pathlib import Path

import pytest
import torch
from conftest import files_under, run_cli, tiny_config_dict, write_config
from safetensors.torch import load_file

from model_foundry.config import ConfigError, ExperimentConfig
from model_foundry.trainer import Trainer
from model_foundry.training.checkpointing import CheckpointError

pytestmark = pytest.mark.integration


def on_disk(root: Path) -> dict:
    "Every file under `root` with its size and modification time (the run's lock file aside: each start takes it)."
    return files_under(root, ignore={".lock"})


def train(ws: Path, **training) -> Path:
    return Trainer(ExperimentConfig(**tiny_config_dict(ws, **training)), base_dir=ws, progress=False).train()


def weights(run: Path, step: int) -> dict:
    return load_file(run / f"checkpoint-{step}" / "model.safetensors")


@pytest.mark.parametrize("kind", ["a file", "a folder of other files"])
def test_an_output_dir_holding_something_else_is_refused(temp_workspace, tiny_corpus, kind):
    run = temp_workspace / "run"
    if kind == "a file": run.write_text("my notes\n")
    else: run.mkdir(); (run / "notes.txt").write_text("my notes\n")
    before = on_disk(temp_workspace)
    with pytest.raises(ConfigError, match="is a file" if kind == "a file" else "holds files but no Model Foundry run"):
        train(temp_workspace)
    assert on_disk(temp_workspace) == before


def test_stray_files_in_checkpoints_do_not_restart_the_run(temp_workspace, tiny_corpus):
    run = train(temp_workspace)
    final = weights(run, 20)
    for ckpt in run.glob("checkpoint-*"):
        (ckpt / ".DS_Store").write_bytes(b"\0")
        (ckpt / "notes.txt").write_text("looks good\n")
    shutil.rmtree(run / "checkpoint-20")  # as if killed after checkpoint-10
    untouched = (run / "checkpoint-5" / "model.safetensors").stat().st_mtime_ns
    train(temp_workspace)
    assert (run / "checkpoint-5" / "model.safetensors").stat().st_mtime_ns == untouched  # not trained again
    resumed = weights(run, 20)
    assert all(torch.equal(final[k], resumed[k]) for k in final)
    steps = [json.loads(l)["step"] for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))


def test_damaged_checkpoints_stop_the_run_instead_of_overwriting_it(temp_workspace, tiny_corpus):
    run = train(temp_workspace)
    shutil.rmtree(run / "checkpoint-20")
    for ckpt in run.glob("checkpoint-*"):
        with open(ckpt / "model.safetensors", "ab") as f: f.write(b"\0")
    before = on_disk(run)
    with pytest.raises(CheckpointError, match="has checkpoints but none to continue from"):
        train(temp_workspace)
    assert on_disk(run) == before


def test_leftovers_of_an_interrupted_save_are_cleared(temp_workspace, tiny_corpus):
    run = train(temp_workspace)
    shutil.copytree(run / "checkpoint-10", run / ".checkpoint-20.tmp-99999")
    shutil.rmtree(run / "checkpoint-20")
    train(temp_workspace)
    assert not (run / ".checkpoint-20.tmp-99999").exists() and (run / "checkpoint-20").is_dir()


@pytest.mark.parametrize("case", ["missing test corpus", "bad resume_from_checkpoint", "manipulation input",
                                  "schedule past the end", "tokenized_dir is a file"])
def test_mistakes_on_disk_exit_2_before_anything_is_written(temp_workspace, tiny_corpus, case):
    d = tiny_config_dict(temp_workspace)
    if case == "missing test corpus": d["data"]["test_corpus"] = str(temp_workspace / "held-out")
    if case == "bad resume_from_checkpoint": d["training"]["resume_from_checkpoint"] = "runs/old/checkpoint-9"
    if case == "manipulation input":
        d["dataset_manipulation"] = [{"type": "model_foundry.data:lowercase", "input_path": "raw",
                                      "output_path": "lower"}]
    if case == "schedule past the end": d["training"]["checkpoint_schedule"] = [0, 10, 40]
    if case == "tokenized_dir is a file":
        (temp_workspace / "tokens").write_text("not a folder\n")
        d["data"]["tokenized_dir"] = str(temp_workspace / "tokens")
    cfg = write_config(temp_workspace, d)
    before = on_disk(temp_workspace)
    r = run_cli("train", cfg, cwd=temp_workspace, timeout=300)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert {"missing test corpus": "held-out", "bad resume_from_checkpoint": "is not a checkpoint",
            "manipulation input": "dataset_manipulation[0].input_path",
            "schedule past the end": "asks for step 40, after the last of the 20 training steps",
            "tokenized_dir is a file": "data.tokenized_dir"}[case] in r.stderr
    assert on_disk(temp_workspace) == before


def test_continuing_from_another_runs_checkpoint(temp_workspace, tiny_corpus):
    first = train(temp_workspace)
    second = train(temp_workspace, output_dir=str(temp_workspace / "continued"),
                   resume_from_checkpoint=str(first / "checkpoint-10"))
    a, b = weights(first, 20), weights(second, 20)
    assert all(torch.equal(a[k], b[k]) for k in a)  # the same run, finished in another folder
    assert not (second / "checkpoint-5").exists()


def test_a_run_does_not_continue_on_changed_data(temp_workspace, tiny_corpus):
    run = train(temp_workspace)
    shutil.rmtree(run / "checkpoint-20")
    with open(tiny_corpus["train"], "a") as f: f.write("the cats near the dog sleep.\n")
    before = on_disk(run)
    with pytest.raises(ConfigError, match="the data and the tokenizer changed since"):
        train(temp_workspace)
    assert on_disk(run) == before


@pytest.mark.parametrize("case", ["damaged", "another model", "at the end"])
def test_a_foreign_checkpoint_is_checked_before_anything_is_written(temp_workspace, tiny_corpus, case):
    first = train(temp_workspace)
    ckpt = first / ("checkpoint-20" if case == "at the end" else "checkpoint-10")
    if case == "damaged":
        with open(ckpt / "model.safetensors", "ab") as f: f.write(b"\0")
    d = tiny_config_dict(temp_workspace, output_dir=str(temp_workspace / "second"), resume_from_checkpoint=str(ckpt))
    if case == "another model": d["model"]["layers"] = 3
    with pytest.raises(ConfigError, match={"damaged": "is damaged", "another model": "another shape",
                                           "at the end": "not before this run's last step"}[case]):
        Trainer(ExperimentConfig(**d), base_dir=temp_workspace, progress=False).train()
    assert not (temp_workspace / "second").exists()


def test_a_failed_weights_and_biases_start_leaves_no_run_behind(temp_workspace, tiny_corpus, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(temp_workspace / "home"))  # no stored login
    monkeypatch.setenv("WANDB_DIR", str(temp_workspace / "home"))
    d = tiny_config_dict(temp_workspace)
    d["logging"]["use_wandb"] = True
    from model_foundry.config import FoundryError
    with pytest.raises(FoundryError, match="Weights & Biases could not start"):
        Trainer(ExperimentConfig(**d), base_dir=temp_workspace, progress=False).train()
    assert not (temp_workspace / "run").exists()


def test_every_start_is_recorded(temp_workspace, tiny_corpus):
    run = train(temp_workspace)
    shutil.rmtree(run / "checkpoint-20")
    train(temp_workspace)
    env = json.loads((run / "environment.json").read_text())
    assert env["torch"] == torch.__version__ and len(env["earlier_starts"]) == 1
