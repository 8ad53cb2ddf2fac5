"""Kill a run at any instant, run the same command again, get the same model.

A run is killed with SIGKILL over and over, at startup, mid-step and in the middle of writing a checkpoint, and
started again each time with the same command; when it is finally let finish, its checkpoints, weights, optimizer
state and metrics are those of the same run left alone, bit for bit.

The kills are drawn from a seeded random generator, printed at the start (run with `pytest -s` to see it, and the
record of every kill); set MODEL_FOUNDRY_CRASH_SEED to replay a seed's plan. Timing still varies from one run to
the next, so a seed fixes where the kills are aimed, not exactly where they land.
"""
import json
import os
import random
import subprocess
import time
from pathlib import Path

import pytest
import torch
from conftest import ENV, checkpoints, run_trainer, trainer_command

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

STEPS, EVERY = 200, 4  # ~2.8 epochs of 72 steps; a checkpoint every 4 steps, so saving takes much of the time
CONFIG = f"""\
experiment_name: crash_resume
data:
  source_corpus: corpus
  training_corpus: corpus
  batch_size: 4
  max_sequence_length: 32
tokenizer:
  output_dir: tokenizer
  vocab_size: 120
model:
  layers: 1
  embedding_size: 32
  hidden_size: 32
  intermediate_hidden_size: 64
  attention_heads: 2
  activation_function: gelu
  dropout: 0.1
  attention_dropout: 0.1
training:
  output_dir: run
  learning_rate: 0.003
  warmup_steps: 5
  train_steps: {STEPS}
  epochs: 1
  gradient_accumulation_steps: 2
  checkpoint_schedule: {list(range(EVERY, STEPS, EVERY))}
logging:
  use_wandb: false
  console_level: WARNING
  log_metrics_every_n_steps: 1
random_seed: 11
"""
# Where the kills are aimed: at startup (importing, preparing data; at the latest as the first new checkpoint lands, so
# that a fast machine does not finish the run first); at the moment a checkpoint's hidden folder appears, or a little
# into its writing; a random moment after one to four new checkpoints (mid-step, mid-log or mid-save). Each but a
# startup kill lets at least one new checkpoint be written first, so the run moves on.
PLAN = ["startup"] * 2 + ["save"] * 4 + ["into-save"] * 2 + ["anytime"] * 5


def make_workspace(root: Path) -> Path:
    "A folder holding a synthetic corpus in two .train files, and the config."
    from model_foundry.synthetic import generate_sentences
    (root / "corpus").mkdir(parents=True)
    lines = generate_sentences(1000, seed=3)
    for i, name in enumerate(["part1", "part2"]): (root / "corpus" / f"{name}.train").write_text("\n".join(lines[i::2]) + "\n")
    (root / "config.yaml").write_text(CONFIG)
    return root


def saving(run: Path) -> list:
    "The hidden folders of checkpoints being written."
    try: return sorted(n for n in os.listdir(run) if n.startswith(".checkpoint-") and ".tmp-" in n)
    except FileNotFoundError: return []


def wait_until(cond, p: subprocess.Popen, deadline: float, poll: float = 0.001) -> bool:
    "Poll `cond` until it holds (True), or the process ends or the deadline passes (False)."
    while p.poll() is None and time.monotonic() < deadline:
        if cond(): return True
        time.sleep(poll)
    return False


def kill_once(ws: Path, how: str, rng: random.Random) -> dict:
    "Start the run, kill it (SIGKILL) as `how` says, and say what was on disk when it died."
    run = ws / "run"
    before = len(checkpoints(run))
    cmd, kw = trainer_command("config.yaml"), dict(cwd=ws, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    p = subprocess.Popen(cmd, **kw)
    t0 = time.monotonic()
    deadline = t0 + 120
    new = lambda k: lambda: len(checkpoints(run)) >= before + k
    if how == "startup":  # a moment before the first new checkpoint, however fast this machine starts
        at = t0 + rng.uniform(1, 5)
        wait_until(lambda: time.monotonic() > at or new(1)(), p, deadline, poll=0.002)
    elif how in ("save", "into-save"):
        if wait_until(new(1), p, deadline) and wait_until(lambda: saving(run), p, deadline, poll=0.0005):
            if how == "into-save": time.sleep(rng.uniform(0.002, 0.02))
    else:
        if wait_until(new(rng.randint(1, 4)), p, deadline): time.sleep(rng.uniform(0, 0.1))
    p.kill()
    _, err = p.communicate()
    if p.returncode != -9:  # it ended before the kill: finished, or failed
        assert p.returncode == 0, f"the run failed after {how!r}:\n{err.decode()[-3000:]}"
        return {"how": how, "killed": False}
    ckpts = checkpoints(run)
    mine = [n for n in saving(run) if f".tmp-{p.pid}-" in n]  # this process's save, not an earlier one's
    return {"how": how, "killed": True, "after_s": round(time.monotonic() - t0, 2), "saving": mine,
            "latest": ckpts[-1].name if ckpts else None, "new_checkpoints": len(ckpts) - before}


def same(a, b) -> bool:
    "Equal to the bit: tensors, and dicts/lists of them and of plain values."
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict): return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)): return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    return a == b


def deterministic(row: dict) -> dict:
    "A metrics row without what depends on the clock or the machine (time, throughput, timings, memory)."
    return {k: v for k, v in row.items() if k not in ("time", "tokens_per_s") and not k.endswith(("_s", "_mb"))}


def loop_state(ckpt: Path) -> dict:
    "The loop's state saved in a checkpoint, without wall-clock times."
    d = json.loads((ckpt / "trainer_state.json").read_text())
    return {**d, "state": {k: v for k, v in d["state"].items() if not k.endswith("_seconds")}}


def test_killed_at_random_moments_resumes_to_the_same_run(tmp_path):
    from safetensors.torch import load_file

    from model_foundry.config import load_config
    from model_foundry.training.checkpointing import CheckpointManager
    seed = int(os.environ.get("MODEL_FOUNDRY_CRASH_SEED", random.randrange(2**31)))
    print(f"\ncrash-resume seed {seed} (MODEL_FOUNDRY_CRASH_SEED={seed} replays this plan)")
    rng = random.Random(seed)
    plan = rng.sample(PLAN, len(PLAN))

    whole = make_workspace(tmp_path / "whole")
    r = run_trainer("config.yaml", cwd=whole)
    assert r.returncode == 0, r.stderr

    cut = make_workspace(tmp_path / "cut")
    kills = []
    for how in plan:
        k = kill_once(cut, how, rng)
        print(k)
        if not k["killed"]: break
        kills.append(k)
    r = run_trainer("config.yaml", cwd=cut)
    assert r.returncode == 0, r.stderr

    assert len(kills) >= 10, f"the run finished after {len(kills)} kills; make it longer"
    assert sum(bool(k["saving"]) for k in kills) >= 3, f"fewer than 3 kills landed while a checkpoint was written: {kills}"

    a, b = whole / "run", cut / "run"
    steps = lambda run: [int(p.name.split("-")[1]) for p in checkpoints(run)]
    assert steps(a) == [0, *range(EVERY, STEPS, EVERY), STEPS]
    assert steps(b) == steps(a)
    for ca, cb in zip(checkpoints(a), checkpoints(b)):
        assert sorted(p.name for p in cb.iterdir()) == sorted(p.name for p in ca.iterdir()), f"{cb.name}: other files"
        assert same(load_file(ca / "model.safetensors"), load_file(cb / "model.safetensors")), f"{cb.name}: weights differ"
        if (ca / "training_state.pt").exists():  # the newest checkpoints keep what it takes to resume
            assert loop_state(ca) == loop_state(cb), f"{cb.name}: the loop's state differs"
            sa, sb = (torch.load(c / "training_state.pt", weights_only=True) for c in (ca, cb))
            assert same(sa, sb), f"{cb.name}: optimizer, scheduler or random state differs"
    assert (b / f"checkpoint-{STEPS}" / "training_state.pt").exists()

    rows = lambda run: [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    ra, rb = rows(a), rows(b)
    assert [r["step"] for r in ra] == list(range(1, STEPS + 1))
    assert [deterministic(r) for r in rb] == [deterministic(r) for r in ra]
    assert {"loss", "lr", "grad_norm", "tokens_seen", "words_seen", "epoch"} <= deterministic(ra[0]).keys()
    assert ra[-1]["epoch"] >= 1  # the run crossed an epoch boundary

    left = lambda run: sorted(str(p.relative_to(run)) for p in run.rglob("*")
                              if p.name.startswith(".checkpoint-") or ".tmp" in p.name or ".old-" in p.name)
    assert left(b) == [], "an interrupted save left files behind"
    ckpts = CheckpointManager(load_config(cut / "config.yaml"), cut)
    assert {c.name: ckpts.verify(c) for c in checkpoints(b)} == {c.name: [] for c in checkpoints(b)}
