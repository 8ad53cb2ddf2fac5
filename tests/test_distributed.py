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


def test_killed_two_process_run_resumes_to_the_same_weights(temp_workspace, tiny_corpus):
    "Kill a 2-process run (with dropout) after a checkpoint; the same command resumes it to the weights of a run never interrupted."
    import os, signal, time
    from safetensors.torch import load_file

    def config(name):
        d = tiny_config_dict(temp_workspace, train_steps=60, warmup_steps=2, checkpoint_schedule=[0, 4, 60])
        d["training"]["output_dir"] = str(temp_workspace / name)
        d["model"].update(dropout=0.1, attention_dropout=0.1)
        path = temp_workspace / "configs" / f"{name}.yaml"
        path.write_text(yaml.safe_dump(d, sort_keys=False))
        return path

    cmd = lambda cfg: [PY, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
                       "model_foundry.trainer", str(cfg)]
    full, cut = config("full"), config("cut")
    r = subprocess.run(cmd(full), cwd=temp_workspace, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    p = subprocess.Popen(cmd(cut), cwd=temp_workspace, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    deadline = time.time() + 300
    while not (temp_workspace / "cut" / "checkpoint-4").exists() and time.time() < deadline and p.poll() is None:
        time.sleep(0.01)
    for proc in Path("/proc").iterdir():  # torchrun and its training processes (each in a session of its own)
        try:
            if str(cut) in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                os.kill(int(proc.name), signal.SIGKILL)
        except (OSError, ValueError): continue
    p.wait()
    time.sleep(0.5)  # the training processes are gone once their parent's SIGKILL is delivered
    assert not (temp_workspace / "cut" / "checkpoint-60").exists(), "the run ended before it could be interrupted"
    r = subprocess.run(cmd(cut), cwd=temp_workspace, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, "\n".join(l for l in r.stderr.splitlines() if "rank1" not in l)[:4000]
    assert "resuming from" in r.stderr, r.stderr[-3000:]
    a = load_file(temp_workspace / "full" / "checkpoint-60" / "model.safetensors")
    b = load_file(temp_workspace / "cut" / "checkpoint-60" / "model.safetensors")
    assert all(torch_equal(a[k], b[k]) for k in a)
    assert [x["loss"] for x in rows(temp_workspace / "full") if "loss" in x] == \
           [x["loss"] for x in rows(temp_workspace / "cut") if "loss" in x]


def torch_equal(a, b) -> bool:
    import torch
    return torch.equal(a, b)
