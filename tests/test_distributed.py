"""Data-parallel training with torchrun (gloo on CPU): the same science at any world size."""
import json, subprocess, sys
from pathlib import Path

import pytest
import yaml

from conftest import tiny_config_dict

PY = sys.executable
pytestmark = pytest.mark.integration


def write(ws: Path, name: str, **training) -> Path:
    d = tiny_config_dict(ws, train_steps=8, warmup_steps=1, checkpoint_schedule=[0, 4, 8], **training)
    d["training"]["output_dir"] = str(ws / name)
    d["logging"]["log_metrics_every_n_steps"] = 1
    path = ws / "configs" / f"{name}.yaml"
    path.write_text(yaml.safe_dump(d, sort_keys=False))
    return path


def rows(run: Path) -> list:
    return [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]


def test_two_processes_train_as_one_with_twice_the_accumulation(temp_workspace, tiny_corpus):
    "torchrun --nproc_per_node=2 with micro-batches of 4 = one process accumulating two micro-batches of 4."
    import torch
    from safetensors.torch import load_file
    one = write(temp_workspace, "one", gradient_accumulation_steps=2)
    two = write(temp_workspace, "two", gradient_accumulation_steps=1)
    r = subprocess.run([PY, "-m", "model_foundry.trainer", str(one)], cwd=temp_workspace, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([PY, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                        "-m", "model_foundry.trainer", str(two)], cwd=temp_workspace, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = rows(temp_workspace / "one"), rows(temp_workspace / "two")
    steps = [x["step"] for x in a if "loss" in x]
    assert steps == list(range(1, 9)) and [x["step"] for x in b if "loss" in x] == steps  # each step written once
    for x, y in zip([x for x in a if "loss" in x], [y for y in b if "loss" in y]):
        assert (x["tokens_seen"], x["words_seen"]) == (y["tokens_seen"], y["words_seen"])
        assert abs(x["loss"] - y["loss"]) <= 1e-5 * abs(x["loss"]), (x, y)
        assert abs(x["grad_norm"] - y["grad_norm"]) <= 1e-4 * abs(x["grad_norm"]), (x, y)
    names = lambda run: sorted(p.name for p in run.glob("checkpoint-*"))
    assert names(temp_workspace / "one") == names(temp_workspace / "two") == ["checkpoint-0", "checkpoint-4",
                                                                             "checkpoint-8"]
    wa = load_file(temp_workspace / "one" / "checkpoint-8" / "model.safetensors")
    wb = load_file(temp_workspace / "two" / "checkpoint-8" / "model.safetensors")
    assert max((wa[k] - wb[k]).abs().max().item() for k in wa) < 1e-5
    env = json.loads((temp_workspace / "two" / "environment.json").read_text())
    assert env["world_size"] == 2
