"""Data-parallel training with torchrun (gloo on CPU): the same science at any world size, with DDP or FSDP."""
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Optional

import pytest
from conftest import ARCHITECTURE_SECTIONS, architecture_config_dict, run_python, run_trainer, tiny_config_dict, trainer_command, write_config

from model_foundry.training.tracking import read_metrics as rows

pytestmark = pytest.mark.integration


def write(ws: Path, name: str, model: Optional[dict] = None, **training) -> Path:
    "The tiny config training into `ws/name` (8 steps, checkpoints at 0, 4, 8 unless `training` says otherwise)."
    d = tiny_config_dict(ws, **{"train_steps": 8, "warmup_steps": 1, "checkpoint_schedule": [0, 4, 8], **training})
    d["training"]["output_dir"] = str(ws / name)
    d["model"].update(model or {})
    d["logging"]["log_metrics_every_n_steps"] = 1
    return write_config(ws, d, name)


def losses(run: Path) -> dict:
    "step -> the step's metrics row (rows with a training loss)"
    return {r["step"]: r for r in rows(run) if "loss" in r}


def train(ws: Path, cfg: Path, processes: int = 1) -> subprocess.CompletedProcess:
    r = run_trainer(cfg, cwd=ws, processes=processes)
    assert r.returncode == 0, r.stderr[-4000:]
    return r


def same_steps(a: dict, b: dict, steps):
    "The same sequences (words seen) and, within float tolerance, the same losses and gradient norms."
    for s in steps:
        x, y = a[s], b[s]
        assert (x["tokens_seen"], x["words_seen"]) == (y["tokens_seen"], y["words_seen"]), (x, y)
        assert abs(x["loss"] - y["loss"]) <= 1e-5 * abs(x["loss"]), (x, y)
        assert abs(x["grad_norm"] - y["grad_norm"]) <= 1e-4 * abs(x["grad_norm"]), (x, y)


def test_two_processes_train_as_one_with_twice_the_accumulation(temp_workspace, tiny_corpus):
    """torchrun --nproc_per_node=2 with micro-batches of 4, replicated (DDP) or sharded (FSDP) = one process
    accumulating two micro-batches of 4; a 2-process checkpoint continues in one process with the same data."""
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM
    ws = temp_workspace
    train(ws, write(ws, "one", gradient_accumulation_steps=2))
    train(ws, write(ws, "two", gradient_accumulation_steps=1), processes=2)
    train(ws, write(ws, "sharded", gradient_accumulation_steps=1, distributed="fsdp"), processes=2)
    a = losses(ws / "one")
    assert sorted(a) == list(range(1, 9))
    for run in ("two", "sharded"):
        assert [r["step"] for r in rows(ws / run)] == [r["step"] for r in rows(ws / "one")]  # each row written once
        same_steps(a, losses(ws / run), range(1, 9))
        assert sorted(p.name for p in (ws / run).glob("checkpoint-*")) == ["checkpoint-0", "checkpoint-4",
                                                                           "checkpoint-8"]
        wa, wb = load_file(ws / "one" / "checkpoint-8" / "model.safetensors"), \
            load_file(ws / run / "checkpoint-8" / "model.safetensors")
        assert set(wa) == set(wb) and max((wa[k] - wb[k]).abs().max().item() for k in wa) < 1e-5
        assert json.loads((ws / run / "environment.json").read_text())["world_size"] == 2
        held_out = lambda name: [(r["step"], r["eval_loss"]) for r in rows(ws / name) if "eval_loss" in r]
        assert [s for s, _ in held_out(run)] == [0, 4, 8]  # evaluated at every checkpoint, sharded or not
        assert all(abs(x - y) <= 1e-5 * x for (_, x), (_, y) in zip(held_out("one"), held_out(run)))
    # the sharded run's checkpoint is a whole model that any client loads
    model = AutoModelForCausalLM.from_pretrained(ws / "sharded" / "checkpoint-8")
    assert model.config.architectures == ["GPT2LMHeadModel"]
    # a checkpoint of 2 processes (replicated or sharded) continues in one: the accumulation becomes 2, the steps
    # see the same sequences, and the optimizer state (gathered whole from the shards) carries on
    for run in ("two", "sharded"):
        cfg = write(ws, f"{run}-then-one", gradient_accumulation_steps=1,
                    resume_from_checkpoint=str(ws / run / "checkpoint-4"))
        r = train(ws, cfg)
        assert "2 micro-batch(es) of 4 per step and process instead of the config's 1" in r.stderr, r.stderr[-3000:]
        b = losses(ws / f"{run}-then-one")
        assert sorted(b) == [5, 6, 7, 8]
        same_steps(a, b, [5, 6, 7, 8])
    # and a replicated run's checkpoint continues sharded: each process gets its shard of the whole optimizer state
    cfg = write(ws, "two-then-sharded", gradient_accumulation_steps=1, distributed="fsdp",
                resume_from_checkpoint=str(ws / "two" / "checkpoint-4"))
    train(ws, cfg, processes=2)
    b = losses(ws / "two-then-sharded")
    assert sorted(b) == [5, 6, 7, 8]
    same_steps(a, b, [5, 6, 7, 8])


@pytest.mark.parametrize("arch", [pytest.param(a, marks=[] if a in ("llama", "lstm") else [pytest.mark.slow])
                                  for a in ARCHITECTURE_SECTIONS if a != "gpt2"])
def test_every_architecture_trains_as_one_process_replicated_or_sharded(arch, temp_workspace, tiny_corpus):
    """Llama, GPT-NeoX, Mamba, Mamba2 and the recurrent models too: two processes (DDP, or FSDP sharding each
    block) take the steps one process takes with twice the accumulation, to the same weights."""
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM
    ws = temp_workspace

    def config(name, **training):
        d = architecture_config_dict(ws, arch, name, train_steps=8, warmup_steps=1, checkpoint_schedule=[0, 8], **training)
        return write_config(ws, d, name)

    train(ws, config("one", gradient_accumulation_steps=2))
    train(ws, config("two", gradient_accumulation_steps=1), processes=2)
    train(ws, config("sharded", gradient_accumulation_steps=1, distributed="fsdp"), processes=2)
    a = losses(ws / "one")
    assert sorted(a) == list(range(1, 9))
    wa = load_file(ws / "one" / "checkpoint-8" / "model.safetensors")
    for run in ("two", "sharded"):
        same_steps(a, losses(ws / run), range(1, 9))
        wb = load_file(ws / run / "checkpoint-8" / "model.safetensors")
        assert set(wa) == set(wb) and max((wa[k] - wb[k]).abs().max().item() for k in wa) < 1e-5, run
    model = AutoModelForCausalLM.from_pretrained(ws / "sharded" / "checkpoint-8")  # a whole model, gathered
    assert type(model).__name__ == model.config.architectures[0]


def test_a_process_that_dies_stops_the_run_and_it_resumes_with_two_or_one(temp_workspace, tiny_corpus):
    """Kill one of a 2-process run's processes (dropout on) after a checkpoint: torchrun stops the other, no hang.
    The same command resumes it to the weights and losses of a run never interrupted; one process resumes it too."""
    import torch
    from safetensors.torch import load_file
    ws = temp_workspace

    def config(name):
        return write(ws, name, model=dict(dropout=0.1, attention_dropout=0.1), train_steps=60, warmup_steps=2,
                     checkpoint_schedule=[0, 4, 60])

    full, cut = config("full"), config("cut")
    train(ws, full, processes=2)
    p = subprocess.Popen(trainer_command(cut, processes=2), cwd=ws, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    deadline = time.time() + 300
    while not (ws / "cut" / "checkpoint-4").exists() and time.time() < deadline and p.poll() is None:
        time.sleep(0.01)
    killed = [pid for pid in worker_pids(str(cut)) if local_rank(pid) == "1"]
    assert killed, "the second training process was not found"
    os.kill(killed[0], signal.SIGKILL)
    try: _, err = p.communicate(timeout=300)  # the launcher notices and stops the first process: no hang
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        pytest.fail("the run hung after one of its processes died")
    assert p.returncode != 0
    time.sleep(0.5)
    assert not worker_pids(str(cut)), "a training process outlived the run"
    assert not (ws / "cut" / "checkpoint-60").exists(), "the run ended before it could be interrupted"
    shutil.copytree(ws / "cut", ws / "cut-one")  # the same interrupted run, to continue in one process
    one = config("cut-one")
    r = train(ws, cut, processes=2)
    assert "resuming from" in r.stderr, r.stderr[-3000:]
    a = load_file(ws / "full" / "checkpoint-60" / "model.safetensors")
    b = load_file(ws / "cut" / "checkpoint-60" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [x["loss"] for x in rows(ws / "full") if "loss" in x] == [x["loss"] for x in rows(ws / "cut") if "loss" in x]
    r = train(ws, one)  # one process: accumulation 2 keeps the 8 sequences per step, in the same order
    assert "2 micro-batch(es) of 4 per step and process" in r.stderr, r.stderr[-3000:]
    assert (ws / "cut-one" / "checkpoint-60").exists()
    f, o = losses(ws / "full"), losses(ws / "cut-one")
    assert sorted(o) == list(range(1, 61))  # every step logged once, the interrupted process's rows replaced
    assert [o[s]["words_seen"] for s in o] == [f[s]["words_seen"] for s in o]  # the same sequences, step by step


def worker_pids(config: str) -> list[int]:
    "The training processes (not the launcher) started for `config`."
    pids = []
    for proc in Path("/proc").iterdir():
        try: cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError: continue
        words = [w.decode(errors="replace") for w in cmd]
        if config in words and "model_foundry.trainer" in words and "torch.distributed.run" not in words:
            pids.append(int(proc.name))
    return pids


def local_rank(pid: int):
    try: env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError: return None
    return next((e.split(b"=", 1)[1].decode() for e in env if e.startswith(b"LOCAL_RANK=")), None)


def test_a_step_two_processes_cannot_form_is_one_line_before_training(temp_workspace, tiny_corpus):
    "A config whose sequences per step (× processes) exceed the corpus stops every process with one line, no run."
    cfg = write(temp_workspace, "huge", gradient_accumulation_steps=1)
    r = run_python(*trainer_command(cfg, processes=2)[1:], "--set", "data.batch_size=100000", cwd=temp_workspace)
    assert r.returncode != 0
    ours = [l for l in r.stderr.splitlines() if l.startswith("error:")]
    assert len(ours) == 1, r.stderr[-3000:]  # said once, by the first process
    assert "fewer than one optimizer step needs (200000 = batch_size × gradient_accumulation_steps × 2 processes)" \
        in ours[0]
    assert not (temp_workspace / "huge").exists()  # nothing written: no run folder
