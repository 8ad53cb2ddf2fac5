"""Time the quickstart's commands (`make quickstart` after installation) in a scratch folder.

    .venv/bin/python bench/quickstart.py            # prints one line per command, then the totals

It runs exactly what `make quickstart` runs (synthetic corpus, train, evaluate, plot) on configs/quickstart.yaml, in a fresh
temporary folder so nothing is cached, and reports wall time, checkpoints written and training throughput. Run it on
an otherwise idle machine: two torch processes on the same cores slow each other down many times over. It prints the
quickstart's result too: the minimal-pair accuracy (all phenomena) at checkpoint-0 and at the last checkpoint.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = [["synthetic", "data/synthetic"], ["train", "configs/quickstart.yaml"],
            ["evaluate", "runs/quickstart", "--pairs", "data/synthetic/minimal_pairs.jsonl"], ["plot", "runs/quickstart"]]


def main():
    work = Path(tempfile.mkdtemp(prefix="quickstart-bench-"))
    (work / "configs").mkdir()
    shutil.copy(ROOT / "configs" / "quickstart.yaml", work / "configs" / "quickstart.yaml")
    total, accuracy = 0.0, []
    try:
        for args in COMMANDS:
            start = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "model_foundry.cli", *args], cwd=work, capture_output=True, text=True)
            took = time.perf_counter() - start
            total += took
            if r.returncode != 0: sys.exit(f"model-foundry {' '.join(args)} failed:\n{r.stderr[-2000:]}")
            print(f"model-foundry {' '.join(args):<32} {took:7.1f} s")
            if args[0] == "evaluate": accuracy = [l for l in r.stdout.splitlines() if "phenomenon=all" in l]
        run = work / "runs" / "quickstart"
        rows = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
        ckpts = [p for p in run.glob("checkpoint-*") if p.is_dir()]
        speeds = sorted(r["tokens_per_s"] for r in rows if "tokens_per_s" in r)  # (checkpoint-0's row has none)
        tps = speeds[len(speeds) // 2]
        print(f"total {total:.1f} s on {os.cpu_count()} CPU cores; {len(ckpts)} checkpoints; {rows[-1]['step']} steps; "
              f"final loss {rows[-1]['loss']:.3f}; median {tps:,.0f} tokens/s; loss.png: {(run / 'loss.png').exists()}")
        for line in accuracy: print(f"minimal pairs: {line.split('phenomenon=all: ', 1)[-1]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__": main()
