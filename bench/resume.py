"""Time resuming a run from early in a long epoch and from near its end: the two should take the same time.

    .venv/bin/python bench/resume.py                                 # a minute or two on 2 CPU cores
    .venv/bin/python bench/resume.py --sentences 50000 --repeats 3   # quicker, noisier

A run's place in its data is restored in constant time: an epoch's order is a function of (seed, epoch) only, so
resuming at sequence p of the epoch starts the loader at p, and nothing before it is read again. The script trains a
very small model through one long epoch (many short sequences) with checkpoints at an early step and at a step near
the end of the epoch. Then, for each of the two, it copies the run keeping only the checkpoints up to that one and
resumes the copy in this process, timing from the call to `Trainer(...).train()` to the first training step (where
it stops). For contrast it also times what resuming by replaying the skipped batches through the DataLoader would
cost (what Hugging Face's Trainer does), by iterating the loader up to each position.

Export OMP_NUM_THREADS=1 first on a small machine, and run it on an otherwise idle one: two torch processes on the
same cores slow each other down many times over.
"""
import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml


class _FirstStep(Exception):
    "Raised by the patched `train_step` to stop a resumed run at its first step."


def write_workspace(work: Path, args) -> Path:
    "A corpus of synthetic sentences and a config with a very small model; returns the config's path."
    from model_foundry.synthetic import generate_sentences
    corpus = work / "corpus"
    corpus.mkdir()
    lines = generate_sentences(args.sentences, seed=0)
    for i in range(4): (corpus / f"part{i}.train").write_text("\n".join(lines[i::4]) + "\n")
    config = {
        "experiment_name": "resume_bench", "random_seed": 0,
        "data": {"source_corpus": str(corpus), "training_corpus": str(corpus), "batch_size": args.batch_size,
                 "max_sequence_length": args.seq_len, "tokenized_dir": str(work / "tokenized")},
        "tokenizer": {"output_dir": str(work / "tokenizer"), "vocab_size": 150},
        "model": {"layers": 1, "embedding_size": 16, "hidden_size": 16, "intermediate_hidden_size": 32,
                  "attention_heads": 2, "activation_function": "gelu", "dropout": 0.1, "attention_dropout": 0.1},
        "training": {"output_dir": str(work / "run"), "learning_rate": 3e-3, "warmup_steps": 2, "epochs": 1},
        "logging": {"use_wandb": False, "console_level": "WARNING"},
    }
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def copy_run(run: Path, dest: Path, upto: int):
    "Copy the run folder to `dest` without the checkpoints after step `upto`."
    def later(folder, names):
        return [n for n in names if folder == str(run) and n.startswith("checkpoint-") and int(n.split("-")[1]) > upto]
    shutil.copytree(run, dest, ignore=later)


def time_to_first_step(config_path: Path, work: Path, run: Path, step: int, scratch: Path) -> tuple[float, dict]:
    "Seconds from the call to `Trainer(...).train()` to the first training step, resuming a copy of `run` at `step`."
    from model_foundry.config import load_config
    from model_foundry.trainer import Trainer
    from model_foundry.training.loop import TrainingLoop
    dest = Path(tempfile.mkdtemp(dir=scratch)) / "run"
    copy_run(run, dest, step)
    cfg = load_config(config_path, [f"training.output_dir={dest}"])
    real = TrainingLoop.train_step

    def first_step(self, micro_batches):
        raise _FirstStep(time.perf_counter(), {"step": self.state.step, "position": self.state.position,
                                               "epoch": self.state.epoch})
    TrainingLoop.train_step = first_step
    try:
        start = time.perf_counter()
        Trainer(cfg, work).train()
        raise RuntimeError("the resumed run trained no step")
    except _FirstStep as e:
        took, where = e.args[0] - start, e.args[1]
    finally:
        TrainingLoop.train_step = real
        shutil.rmtree(dest.parent, ignore_errors=True)
    assert where["step"] == step, f"resumed at step {where['step']}, not {step}"
    return took, where


def replay_time(data, batch_size: int, seed: int, position: int) -> float:
    "Seconds to reach sequence `position` of epoch 0 by reading the batches before it through the DataLoader."
    from model_foundry.data import make_loader
    start = time.perf_counter()
    batches = iter(make_loader(data, batch_size, seed, 0))
    for _ in range(position // batch_size): next(batches)
    next(batches)  # the first batch trained on
    return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sentences", type=int, default=200_000, help="sentences of synthetic text (default 200,000)")
    p.add_argument("--seq-len", type=int, default=16, help="tokens per training sequence (default 16)")
    p.add_argument("--batch-size", type=int, default=32, help="sequences per step (default 32)")
    p.add_argument("--early", type=int, default=5, help="the early checkpoint's step (default 5)")
    p.add_argument("--late", type=int, default=None, help="the late checkpoint's step (default: 5 before the end "
                                                          "of the epoch)")
    p.add_argument("--repeats", type=int, default=5, help="timings of each resume; the median is reported (default 5)")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder (its path is printed)")
    args = p.parse_args()

    from model_foundry.config import TrainingConfig, load_config
    from model_foundry.trainer import Trainer
    from model_foundry.training.tracking import setup_logging
    work = Path(tempfile.mkdtemp(prefix="resume-bench-"))
    try:
        config_path = write_workspace(work, args)
        setup_logging("WARNING")
        t = time.perf_counter()
        prep = Trainer(load_config(config_path), work).prepare()  # tokenizer and tokenized data, reused by the run
        prepare_s = time.perf_counter() - t
        plan, data = prep.plan, prep.data.train
        late = args.late if args.late is not None else plan.steps_per_epoch - 5
        if not 0 < args.early < late < plan.train_steps:
            sys.exit(f"need 0 < early ({args.early}) < late ({late}) < the epoch's {plan.train_steps} steps: use "
                     f"more --sentences or other steps")
        config = yaml.safe_load(config_path.read_text())
        config["training"]["checkpoint_schedule"] = [args.early, late]
        if "keep_resume_states" in TrainingConfig.model_fields:  # keep every checkpoint resumable
            config["training"]["keep_resume_states"] = None
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        print(f"epoch of {len(data):,} training sequences of {data.seq_len} tokens ({args.sentences:,} sentences; "
              f"prepared in {prepare_s:.1f} s); {plan.train_steps:,} steps of {plan.sequences_per_step} sequences")

        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "model_foundry.trainer", str(config_path)], cwd=work,
                           capture_output=True, text=True)
        if r.returncode != 0: sys.exit(f"training failed:\n{r.stderr[-2000:]}")
        run = work / "run"
        rows = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
        print(f"trained the whole epoch in {time.perf_counter() - t:.1f} s (the command, startup included); "
              f"final loss {rows[-1]['loss']:.3f}")

        scratch = work / "resumes"
        scratch.mkdir()
        time_to_first_step(config_path, work, run, args.early, scratch)  # warm-up: first imports, caches
        times, where = {args.early: [], late: []}, {}
        for _ in range(args.repeats):
            for step in times:
                took, where[step] = time_to_first_step(config_path, work, run, step, scratch)
                times[step].append(took)
        median = {step: statistics.median(ts) for step, ts in times.items()}
        print(f"time from Trainer(...).train() to the first resumed training step (median of {args.repeats}):")
        for step, ts in times.items():
            print(f"  from checkpoint-{step:<6} at position {where[step]['position'] - plan.sequences_per_step:>9,} "
                  f"of {len(data):,}: {median[step]:6.3f} s   (all: {', '.join(f'{x:.3f}' for x in ts)})")
        print(f"  ratio late / early: {median[late] / median[args.early]:.2f}")

        seed = load_config(config_path).random_seed
        print("for contrast, not what Model Foundry does: reaching the same positions by replaying the skipped "
              "batches through the DataLoader (resuming by skipping batches):")
        for step in times:
            position = step * plan.sequences_per_step
            ts = [replay_time(data, args.batch_size, seed, position) for _ in range(args.repeats)]
            print(f"  position {position:>9,}: {statistics.median(ts):6.3f} s  (median of {args.repeats})")
    finally:
        if args.keep: print(f"scratch folder kept: {work}")
        else: shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__": main()
