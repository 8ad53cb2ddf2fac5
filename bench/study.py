"""A 2×2 study of quickstart-sized runs: the study's local pool against the same runs one after another.

    .venv/bin/python bench/study.py                 # 2 conditions × 2 seeds of configs/quickstart.yaml, 300 steps each
    .venv/bin/python bench/study.py --steps 714     # the quickstart's whole length (two epochs)
    .venv/bin/python bench/study.py --scaling       # and one run alone with one thread: the most a pool can gain

In a fresh scratch folder it writes the synthetic corpus and a study file: configs/quickstart.yaml as the base, a
baseline and a condition with another learning rate, seeds 0 and 1, `--steps` optimizer steps each. The study's
preparation (tokenizer and tokenized data, shared by all four runs) is made first and not counted. Then, each in its
own study folder so that neither reuses the other's runs:

  1. one after another: each run trained alone in a new process (`model_foundry.launch.train_run`, as a study's job
     runs it) with every core as torch threads, the next started when it ends;
  2. the study's pool: `model_foundry.launch.run_study` with `--parallel` runs at once (default: one per core), each
     with its share of the cores as torch threads.

It prints the wall time of each (from the first start to the last end), tokens per second over the four runs, and
their ratio. Target: the pool at least 1.5× faster than one run after another on 2 cores. Run it on an otherwise
idle machine.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def study_file(work: Path, name: str, steps: int, parallel: int) -> Path:
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "study_name": name, "base": str(ROOT / "configs" / "quickstart.yaml"), "baseline": "baseline", "seeds": [0, 1],
        "conditions": {"baseline": {"set": {"training.train_steps": steps}},
                       "slower": {"set": {"training.train_steps": steps, "training.learning_rate": 1e-3}}},
        "launch": {"max_parallel": parallel}}, sort_keys=False))
    return path


def one_after_another(study, threads: int, runs=None) -> float:
    "Train every run of `study` (or `runs` of it) alone, in a process of its own with `threads` torch threads; the wall time."
    start = time.perf_counter()
    for run in study.runs if runs is None else runs:
        spec = json.dumps({"config": run.config.model_dump(mode="json"), "base_dir": str(study.base_dir),
                           "threads": threads})
        code = "import json, sys; from model_foundry.launch import train_run; train_run(**json.loads(sys.argv[1]))"
        r = subprocess.run([sys.executable, "-c", code, spec], capture_output=True, text=True,
                           env={**os.environ, "OMP_NUM_THREADS": str(threads)})
        if r.returncode != 0: sys.exit(f"{run.name} failed:\n{r.stderr[-2000:]}")
    return time.perf_counter() - start


def main():
    from model_foundry.launch import run_study
    from model_foundry.study import Study
    from model_foundry.synthetic import write_corpus
    from model_foundry.training.tracking import setup_logging
    cores = os.cpu_count() or 1
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300, help="optimizer steps of each run (default 300)")
    p.add_argument("--parallel", type=int, default=cores, help=f"runs of the pool at once (default {cores}, one per core)")
    p.add_argument("--scaling", action="store_true", help="also train one run alone with one thread: what more threads "
                   "give a run bounds what the pool can gain")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="study-bench-"))
    write_corpus(work / "data" / "synthetic", seed=0)
    setup_logging("WARNING")
    studies = {name: Study.load(study_file(work, name, args.steps, args.parallel), base_dir=work)
               for name in ("sequential", "pool")}
    for s in studies.values(): s.prepare(log=lambda line: None)  # shared, made once, not counted
    tokens = sum(r.config.data.batch_size * r.config.data.max_sequence_length * args.steps for r in studies["pool"].runs)
    print(f"{len(studies['pool'].runs)} runs of {args.steps} steps ({tokens:,} tokens in all) on {cores} cores, in {work}")
    seq = one_after_another(studies["sequential"], cores)
    print(f"one after another, {cores} torch thread(s) each: {seq:7.1f} s  ({tokens / seq:,.0f} tokens/s)")
    start = time.perf_counter()
    rows = run_study(studies["pool"], log=lambda line: None, poll=0.2)
    pool = time.perf_counter() - start
    assert all(r["state"] == "done" for r in rows), rows
    threads = max(1, cores // args.parallel)
    print(f"the study's pool, {args.parallel} at a time, {threads} thread(s) each: {pool:7.1f} s  "
          f"({tokens / pool:,.0f} tokens/s)")
    print(f"pool / one after another: {seq / pool:.2f}× faster (target ≥ 1.5×: {'met' if seq / pool >= 1.5 else 'not met'})")
    if args.scaling:  # what a second thread gives one run bounds what a pool of one-thread runs can gain
        alone = Study.load(study_file(work, "one-thread", args.steps, 1), base_dir=work)
        alone.prepare(log=lambda line: None)  # not counted, as above
        one = one_after_another(alone, 1, runs=alone.runs[:1])
        per_run = seq / len(studies["sequential"].runs)
        print(f"one run alone: {one:.1f} s with 1 thread, {per_run:.1f} s (the mean above) with {cores}: {cores} threads "
              f"make a run {one / per_run:.2f}× faster, so a pool of {args.parallel} one-thread runs can be at most "
              f"{args.parallel * per_run / one:.2f}× faster than one run after another")


if __name__ == "__main__": main()
