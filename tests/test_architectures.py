"""Every architecture works with everything the library does: it is causal, it does not learn to copy its input,
it generates, it trains and is evaluated like GPT-2, and a run killed at a random moment resumes to bit-identical
weights. The original Model Foundry's recurrent and Mamba configs train as they are, apart from their paths."""
import math
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import ARCHITECTURE_SECTIONS, architecture_config_dict, last_step, run_cli, run_trainer, tiny_config_dict, trainer_command, write_config

from model_foundry.config import ExperimentConfig, load_config

ROOT = Path(__file__).resolve().parents[1]

ARCHS = list(ARCHITECTURE_SECTIONS)


@pytest.mark.unit
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("variant", ["as in ARCHITECTURE_SECTIONS", "untied, other widths", "fitted to 300k"])
def test_parameter_counts_from_the_config_are_the_built_models(arch, variant):
    """`non_embedding_parameters` and `embedding_parameters` count from the config what the built model holds (tied
    or not, grouped queries, Mamba2's groups, a recurrent state wider than its embeddings); `model.parameters` gives
    a model of that many non-embedding parameters within 2%."""
    from torch import nn

    from model_foundry.model import count_parameters, create_model
    from model_foundry.model_config import embedding_parameters, non_embedding_parameters
    d = tiny_config_dict(Path("/nonexistent"))
    section = dict(ARCHITECTURE_SECTIONS[arch])
    if variant == "untied, other widths":
        section.update(tie_word_embeddings=False, layers=3, hidden_size=96)
        if arch == "llama": section.update(key_value_heads=1, intermediate_hidden_size=200)
        if arch == "mamba2": section.update(n_groups=3, head_dim=16, state_size=12, conv_kernel=3)
        if arch == "mamba": section.update(expand=3, conv_kernel=2)
        if arch in ("lstm", "gru", "rnn"): section.update(embedding_size=40)
    if variant == "fitted to 300k":
        section = {k: v for k, v in section.items() if k not in ("hidden_size", "intermediate_hidden_size",
                                                                  "embedding_size", "head_dim")}
        section["parameters"] = "300k"
    d["model"], d["tokenizer"]["vocab_size"] = section, 101
    cfg = ExperimentConfig(**d)
    model = create_model(cfg)
    vocab = model.config.vocab_size
    embeddings = {id(p): p for m in model.modules() if isinstance(m, nn.Embedding) for p in m.parameters()}
    out = model.get_output_embeddings().weight
    embeddings[id(out)] = out  # tied: the same tensor, counted once
    n_embedding = sum(p.numel() for p in embeddings.values())
    assert embedding_parameters(cfg.model, vocab, cfg.n_positions) == n_embedding, (arch, variant)
    assert non_embedding_parameters(cfg.model) == count_parameters(model) - n_embedding, (arch, variant)
    if variant == "fitted to 300k":
        assert abs((count_parameters(model) - n_embedding) / 300_000 - 1) <= 0.02


@pytest.mark.unit
@pytest.mark.parametrize("arch", ARCHS)
def test_causal_and_no_copying_on_random_tokens(arch):
    "Logits up to t ignore the tokens after t; trained on i.i.d. uniform tokens the loss stays near ln V."
    import torch

    from model_foundry.model import create_model
    d = tiny_config_dict(Path("/nonexistent"))
    d["model"], d["tokenizer"]["vocab_size"] = {**ARCHITECTURE_SECTIONS[arch], "dropout": 0.0, "attention_dropout": 0.0}, 64
    model = create_model(ExperimentConfig(**d))
    x = torch.randint(0, 64, (4, 32), generator=torch.Generator().manual_seed(1))
    y = x.clone(); y[:, 20:] = (x[:, 20:] + 1) % 64
    model.eval()
    with torch.no_grad(): a, b = model(x).logits, model(y).logits
    assert torch.equal(a[:, :20], b[:, :20]), f"{arch}: a later token changed an earlier logit"
    assert not torch.equal(a[:, 20:], b[:, 20:])
    model.train()
    g, opt = torch.Generator().manual_seed(0), torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(150):
        x = torch.randint(0, 64, (16, 32), generator=g)
        loss = model(input_ids=x, labels=x).loss
        loss.backward(); opt.step(); opt.zero_grad()
        losses.append(loss.item())
    final = sum(losses[-20:]) / 20
    assert final > 0.95 * math.log(64), f"{arch} fell to {final:.3f} on unpredictable tokens (ln V = {math.log(64):.3f})"
    out = model.eval().generate(x[:1, :5], max_new_tokens=5, min_new_tokens=5, do_sample=False)
    assert out.shape == (1, 10) and torch.equal(out[0, :5], x[0, :5])


@pytest.mark.integration
@pytest.mark.parametrize("arch", ARCHS)
def test_trains_resumes_after_a_kill_and_is_evaluated(arch, temp_workspace, tiny_corpus):
    "A run killed at a random step resumes to the uninterrupted run's weights; every checkpoint is evaluated."
    import torch
    from safetensors.torch import load_file

    from model_foundry.evaluation import HeldOutLoss, MinimalPairs, WeightNorms, evaluate
    ws = temp_workspace
    full, cut = (write_config(ws, architecture_config_dict(ws, arch, name), name) for name in ("full", "cut"))
    r = run_trainer(full, cwd=ws)
    assert r.returncode == 0, r.stderr[-3000:]
    kill_after = random.Random(arch).randint(6, 17)  # after the checkpoint at 5 or 10, before the last at 20
    p = subprocess.Popen(trainer_command(cut), cwd=ws, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 300
    while last_step(ws / "cut") < kill_after and p.poll() is None and time.time() < deadline: time.sleep(0.01)
    assert p.poll() is None, f"the run ended before it was killed: {p.stderr.read()[-3000:]}"
    p.send_signal(signal.SIGKILL); p.wait()
    r = run_trainer(cut, cwd=ws)
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = (load_file(ws / run / "checkpoint-20" / "model.safetensors") for run in ("full", "cut"))
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a), f"{arch}: the resumed run's weights differ"
    rows = evaluate(ws / "full", [HeldOutLoss(tiny_corpus["test"]), MinimalPairs(tiny_corpus["pairs"]), WeightNorms()],
                    progress=False)
    steps = {(row["metric"], row["step"]) for row in rows}
    for metric in ("loss", "minimal_pairs", "weight_norm"):
        assert {s for m, s in steps if m == metric} == {0, 5, 10, 20}, (arch, metric, sorted(steps))
    loss = {row["step"]: row["value"] for row in rows if row["metric"] == "loss"}
    assert loss[20] < loss[0] - 0.5, f"{arch} did not learn: held-out loss {loss}"


ORIGINAL = {"lstm": "test_lstm_tiny.yaml", "mamba": "test_mamba_tiny.yaml"}


@pytest.mark.integration
@pytest.mark.parametrize("arch", [pytest.param("lstm"), pytest.param("mamba", marks=pytest.mark.slow)])
def test_the_originals_later_configs_train_with_their_paths_pointed_at_real_text(arch, temp_workspace, tiny_corpus):
    """configs/original/test_lstm_tiny.yaml and test_mamba_tiny.yaml, as the original wrote them, train and load.
    Besides the paths, the vocabulary shrinks to what the synthetic language (157 words) can fill, and the run to a
    few steps, and the Mamba config's 512-token sequences are cut to 64: at 512, transformers' pure-PyTorch scan
    (no CUDA kernels on a CPU) takes minutes a step."""
    ws, raw = temp_workspace, yaml.safe_load((ROOT / "configs" / "original" / ORIGINAL[arch]).read_text())
    cfg = load_config(ROOT / "configs" / "original" / ORIGINAL[arch])
    assert cfg.model.architecture == arch and cfg.training.objective == "causal_lm"
    section = raw["model"]["rnn" if arch == "lstm" else "mamba"]
    assert cfg.model.layers == section["num_layers" if arch == "lstm" else "n_layers"]
    corpus = str(tiny_corpus["train"].parent)
    raw["data"].update(source_corpus=corpus, training_corpus=corpus)  # only the paths change
    raw["tokenizer"].update(output_dir=str(ws / "tokenizer"), vocab_size=150)
    steps = 6 if arch == "lstm" else 2
    raw["training"].update(output_dir=str(ws / "run"), train_steps=steps, checkpoint_schedule=[steps // 2, steps],
                           eval_max_sequences=8)
    raw["logging"]["dir"] = "logs"
    if arch == "mamba": raw["data"]["max_sequence_length"] = 64
    config = ws / "configs" / ORIGINAL[arch]
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    r = run_trainer(config, cwd=ws)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (ws / "run" / f"checkpoint-{steps}" / "model.safetensors").is_file()
    if arch == "mamba": assert "model.dropout has no effect for mamba" in r.stderr, r.stderr[-2000:]
    r = run_trainer(config, cwd=ws)  # done: a second start finds it so
    assert r.returncode == 0, r.stderr[-3000:]
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(ws / "run" / f"checkpoint-{steps}")
    assert model.config.num_hidden_layers == cfg.model.layers


@pytest.mark.integration
@pytest.mark.parametrize("model, says", [
    (dict(architecture="lstm", rnn=dict(hidden_size=64, num_layers=1, bidirectional=True)),
     "cannot be trained as a causal language model"),
    (dict(architecture="gru", rnn=dict(hidden_size=64, num_layers=1, rnn_type="lstm")), "set both to the same cell"),
    (dict(architecture="gpt2", layers=2, hidden_size=64, intermediate_hidden_size=128, attention_heads=4,
          mamba=dict(d_state=8)), "model.mamba is for state-space architectures"),
    (dict(architecture="llama", layers=2, hidden_size=64), "llama needs model.intermediate_hidden_size"),
    (dict(architecture="gru", layers=2, hidden_size=64, parameters="1M"),
     "model.parameters is 1,000,000 and the nearest gru with 2 layers has 49,920 non-embedding parameters (-95.0%): "
     "leave out model.hidden_size"),
])
def test_a_model_that_cannot_train_is_refused_in_one_line_before_anything_is_written(model, says, temp_workspace):
    ws = temp_workspace
    d = tiny_config_dict(ws)
    d["model"] = model
    r = run_cli("train", write_config(ws, d), cwd=ws)
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0], r.stderr
    assert not (ws / "run").exists()


@pytest.mark.integration
def test_validate_prints_the_fitted_size(temp_workspace, tiny_corpus):
    "`model-foundry validate` on a config with `model.parameters` prints the widths it chose and the counts."
    ws = temp_workspace
    d = tiny_config_dict(ws)
    d["model"] = dict(architecture="lstm", layers=2, parameters="250k")
    r = run_cli("validate", write_config(ws, d), cwd=ws)
    assert r.returncode == 0, r.stderr[-2000:]
    first = r.stdout.splitlines()[0]
    from model_foundry.model_config import non_embedding_parameters
    cfg = ExperimentConfig(**d)
    n = non_embedding_parameters(cfg.model)
    assert abs(n / 250_000 - 1) <= 0.02, n
    assert f"lstm with 2 layers of width {cfg.model.hidden_size}, {n / 1e6:.3g}M non-embedding parameters + " in first
    assert f"{cfg.model.hidden_size * cfg.tokenizer.vocab_size / 1e6:.3g}M in embeddings" in first, first
