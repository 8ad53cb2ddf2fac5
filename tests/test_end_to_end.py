"""Whole runs from raw text: a config in the original Model Foundry's schema trains from a folder of `.train` files,
every checkpoint is a standard Hugging Face folder, and a run killed mid-way continues to the same weights."""
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from conftest import checkpoints, run_trainer, trainer_command

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ORIGINAL_CONFIG = """\
experiment_name: babylm_style_tiny
data:
  source_corpus: data/raw/train_tiny
  training_corpus: data/raw/train_tiny
  batch_size: 8
  max_sequence_length: 32
tokenizer:
  output_dir: tokenizers/babylm_style_tiny
  vocab_size: 150
model:
  layers: 2
  embedding_size: 64
  hidden_size: 64
  intermediate_hidden_size: 256
  attention_heads: 4
  activation_function: gelu
  dropout: 0.1
  attention_dropout: 0.1
training:
  output_dir: models/babylm_style_tiny
  learning_rate: 0.002
  adam_beta1: 0.9
  adam_beta2: 0.999
  adam_epsilon: 1.0e-08
  warmup_steps: 5
  train_steps: {train_steps}
  epochs: 1
  use_amp: false
  gradient_accumulation_steps: 2
  auto_generate_checkpoints: true
  first_epoch_checkpoints: 6
  subsequent_epochs_spacing: log
  min_checkpoint_interval: 10
  min_checkpoints_per_epoch: 2
logging:
  use_wandb: false
  level: WARNING
random_seed: 7
"""


def make_workspace(root: Path, train_steps: int) -> Path:
    "A project folder holding a BabyLM-like corpus split over several .train files, and the config."
    from model_foundry.synthetic import generate_sentences
    corpus = root / "data" / "raw" / "train_tiny"
    corpus.mkdir(parents=True)
    lines = generate_sentences(3000, seed=3)
    for i, name in enumerate(["childes", "gutenberg", "wikipedia"]):
        (corpus / f"{name}.train").write_text("\n".join(lines[i::3]) + "\n")
    (root / "config.yaml").write_text(ORIGINAL_CONFIG.format(train_steps=train_steps))
    return root


def train(ws: Path):
    return run_trainer("config.yaml", cwd=ws)


def test_original_schema_config_trains_and_checkpoints_load_with_transformers(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from model_foundry.training import load_tokenizer
    ws = make_workspace(tmp_path, train_steps=40)
    r = train(ws)
    assert r.returncode == 0, r.stderr
    run = ws / "models" / "babylm_style_tiny"
    for name in ("config.yaml", "metrics.jsonl", "environment.json"): assert (run / name).exists()
    ckpts = checkpoints(run)
    steps = [int(p.name.split("-")[1]) for p in ckpts]
    assert steps[0] == 0 and steps[-1] == 40 and len(steps) >= 6
    ours = load_tokenizer(ws / "tokenizers" / "babylm_style_tiny")
    text = "the dogs near the house run ."
    for ckpt in ckpts:
        meta = json.loads((ckpt / "metadata.json").read_text())
        assert meta["global_step"] == int(ckpt.name.split("-")[1])
        assert meta["experiment_name"] == "babylm_style_tiny"
        tok = AutoTokenizer.from_pretrained(ckpt)
        model = AutoModelForCausalLM.from_pretrained(ckpt).eval()
        ids = tok(text, return_tensors="pt").input_ids
        assert ids[0].tolist() == ours.encode(text)
        out = model.generate(ids, max_new_tokens=5, min_new_tokens=5, do_sample=False, pad_token_id=tok.pad_token_id)
        assert out.shape[1] == ids.shape[1] + 5
        assert isinstance(tok.decode(out[0]), str)
    rows = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    # a row every logging.log_metrics_every_n_steps (10 by default) and at every checkpoint
    assert [r["step"] for r in rows] == sorted(set(range(10, 41, 10)) | set(steps[1:]))
    assert rows[-1]["loss"] < rows[0]["loss"]
    # Running it again does nothing.
    before = (run / "metrics.jsonl").read_text()
    r = train(ws)
    assert r.returncode == 0 and (run / "metrics.jsonl").read_text() == before
    assert "already finished (40 steps); nothing to do" in r.stderr


def test_killed_run_resumes_to_the_same_weights(tmp_path):
    from safetensors.torch import load_file
    steps = 130
    whole = make_workspace(tmp_path / "whole", train_steps=steps)  # past the end of epoch 1 (step 96)
    assert train(whole).returncode == 0
    cut = make_workspace(tmp_path / "cut", train_steps=steps)
    run = cut / "models" / "babylm_style_tiny"
    p = subprocess.Popen(trainer_command("config.yaml"), cwd=cut, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and p.poll() is None:
        done = [c for c in checkpoints(run) if int(c.name.split("-")[1]) >= 20] if run.exists() else []
        if done: break
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL); p.wait()
    final = run / f"checkpoint-{steps}"
    assert not final.exists(), "the run finished before it could be killed; make it longer"
    r = train(cut)
    assert r.returncode == 0, r.stderr
    a = load_file(whole / "models" / "babylm_style_tiny" / f"checkpoint-{steps}" / "model.safetensors")
    b = load_file(final / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    rows = lambda ws: [json.loads(l) for l in (ws / "models/babylm_style_tiny/metrics.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in rows(cut)] == [r["loss"] for r in rows(whole)]
