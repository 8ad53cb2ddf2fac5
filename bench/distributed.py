"""Tokens per second of one training process and of several under torchrun, and the scaling efficiency.

    .venv/bin/python bench/distributed.py                       # a few minutes on 2 CPU cores
    .venv/bin/python bench/distributed.py --processes 1 2 4     # on a machine with more cores or GPUs
    .venv/bin/python bench/distributed.py --layers 12 --hidden 768 --heads 12 --seq-len 1024 --batch-size 8 --steps 60

Every configuration trains the same model on the same synthetic corpus with the same sequences per optimizer step
(`batch_size × gradient_accumulation_steps × processes` is kept at `--batch-size × max(--processes)`): one process
accumulates what several processes compute side by side. Each is a real `model-foundry` run in a fresh folder,
started as users start it (`python -m model_foundry.trainer`, or `torchrun --standalone --nproc_per_node=N -m
model_foundry.trainer`), and its speed is read from the run's own `metrics.jsonl` (`tokens_per_s`, a row a step),
leaving out the first `--skip` steps (start-up, allocator warm-up). On CPUs each process gets `--threads` torch
threads (1 by default: one core each), so N processes use N cores; the 1-process row with N threads is printed too,
because that is what a single process on the same cores would otherwise do.

Scaling efficiency = tokens/s with N processes ÷ (N × tokens/s with one process of one thread each).
Run it on an otherwise idle machine.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from model_foundry.synthetic import write_corpus
from model_foundry.training.tracking import read_metrics


def config(work: Path, name: str, args, distributed: str, accumulation: int) -> Path:
    "A config of the benchmark's model training into `work/runs/name`; returns its path."
    cfg = {
        "experiment_name": name, "random_seed": 0,
        "data": {"source_corpus": str(work / "corpus"), "batch_size": args.batch_size,
                 "max_sequence_length": args.seq_len, "tokenized_dir": str(work / "tokenized")},
        "tokenizer": {"output_dir": str(work / "tokenizer"), "vocab_size": args.vocab},
        "model": {"layers": args.layers, "embedding_size": args.hidden, "hidden_size": args.hidden,
                  "intermediate_hidden_size": 4 * args.hidden, "attention_heads": args.heads, "dropout": 0.0,
                  "attention_dropout": 0.0},
        "training": {"output_dir": str(work / "runs" / name), "learning_rate": 1e-3, "warmup_steps": 2,
                     "train_steps": args.steps, "gradient_accumulation_steps": accumulation,
                     "checkpoint_schedule": [], "distributed": distributed},
        "logging": {"use_wandb": False, "console_level": "WARNING", "log_metrics_every_n_steps": 1,
                    "log_detailed_metrics_every_n_steps": 10**9, "log_memory_every_n_steps": 10**9},
    }
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def run(work: Path, name: str, args, processes: int, threads: int, distributed: str = "ddp") -> dict:
    "Train one configuration; its median tokens/s after the warm-up steps."
    per_step = args.batch_size * max(args.processes)
    accumulation = per_step // (args.batch_size * processes)
    cfg = config(work, name, args, distributed, accumulation)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    launch = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
              if processes > 1 else [sys.executable])
    t0 = time.perf_counter()
    r = subprocess.run([*launch, "-m", "model_foundry.trainer", str(cfg)], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0: sys.exit(f"{name} failed:\n{r.stderr[-3000:]}")
    rows = read_metrics(work / "runs" / name)
    speeds = [x["tokens_per_s"] for x in rows if "tokens_per_s" in x and x["step"] > args.skip]
    return {"name": name, "processes": processes, "threads": threads, "distributed": distributed,
            "accumulation": accumulation, "tokens_per_s": statistics.median(speeds), "wall_s": wall}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="process counts to measure")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process (CPU)")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--vocab", type=int, default=150, help="tokenizer size (the synthetic language supports about 180)")
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=8, help="sequences per micro-batch and process")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--skip", type=int, default=5, help="first steps left out of the speed")
    p.add_argument("--sentences", type=int, default=60000, help="synthetic training sentences")
    p.add_argument("--fsdp", action="store_true", help="also measure training.distributed: fsdp")
    args = p.parse_args(argv)
    import torch
    device = f"{torch.cuda.device_count()} CUDA device(s)" if torch.cuda.is_available() else f"{os.cpu_count()} CPU cores"
    print(f"model: {args.layers} layers of width {args.hidden}, sequences of {args.seq_len}; "
          f"{args.batch_size * max(args.processes)} sequences per step; {args.steps} steps; {device}")
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        write_corpus(work / "corpus", n_train=args.sentences, n_dev=10, n_test=10, n_pairs=5, seed=0)
        # tokenizer and tokens prepared once (a short run), so that the measured runs only train
        warm = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
        r = subprocess.run([sys.executable, "-m", "model_foundry.trainer",
                            str(config(work, "prepare", args, "ddp", 1)), "--set", "training.train_steps=3"],
                           env=warm, capture_output=True, text=True)
        if r.returncode != 0: sys.exit(f"preparing failed:\n{r.stderr[-3000:]}")
        results = [run(work, "p1", args, 1, args.threads)]
        n_max = max(args.processes)
        if n_max > 1 and not torch.cuda.is_available():
            results.append(run(work, f"p1-t{n_max * args.threads}", args, 1, n_max * args.threads))
        for n in sorted(set(args.processes) - {1}):
            results.append(run(work, f"p{n}-ddp", args, n, args.threads))
            if args.fsdp: results.append(run(work, f"p{n}-fsdp", args, n, args.threads, "fsdp"))
    base = results[0]["tokens_per_s"]
    print(f"{'run':<12}{'processes':>10}{'threads':>9}{'accum':>7}{'tokens/s':>12}{'speed-up':>10}{'efficiency':>12}"
          f"{'wall s':>9}")
    for r in results:
        n = r["processes"]
        speedup = r["tokens_per_s"] / base
        eff = f"{speedup / n:.2f}" if n > 1 else ""
        print(f"{r['name']:<12}{n:>10}{r['threads']:>9}{r['accumulation']:>7}{r['tokens_per_s']:>12,.0f}"
              f"{speedup:>10.2f}{eff:>12}{r['wall_s']:>9.1f}")


if __name__ == "__main__": main()
