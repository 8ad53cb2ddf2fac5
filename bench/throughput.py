"""Training throughput of Model Foundry's `TrainingLoop` against a bare PyTorch loop and Hugging Face's `Trainer`.

    .venv/bin/python bench/throughput.py            # 3-5 minutes on 2 CPU cores
    .venv/bin/python bench/throughput.py --quick    # about a minute: a smoke run, too short to judge by
    .venv/bin/python bench/throughput.py --steps 200 --rounds 7 --layers 6 --hidden 256   # other sizes
    .venv/bin/python bench/throughput.py --architectures all   # a row per architecture: 25-35 minutes on 2 cores

One process trains the same model (a small GPT-2, its weights set by the same seed) on the same data (the built-in
synthetic corpus, tokenized by Model Foundry with a BPE tokenizer it trains) for the same number of optimizer steps,
three ways:

  1. Model Foundry's `TrainingLoop`, built by `build_loop` as `Trainer` builds it (model, optimizer, scheduler,
     checkpoint manager), with no checkpoints, no held-out evaluation (as for the HF Trainer) and logging at its defaults (a metrics row
     every 10 steps); `loop.run()` is timed.
  2. A bare hand-written loop: the same AdamW (weight decay on matrices only), the same linear warm-up and decay
     (`LambdaLR`), micro-batches from a plain `DataLoader` over the same chunks, clipping, and `loss.item()` once a
     step, as a minimal loop that logs its loss does.
  3. `transformers.Trainer` with matching `TrainingArguments` (learning rate, weight decay, warm-up, steps, batch,
     accumulation, clipping, a log every 10 steps, no saving, no evaluation, no reporting, `optim="adamw_torch"`,
     the same DataLoader workers, no pinned memory, drop_last) on a Dataset of the same chunks. The whole
     `trainer.train()` call is timed; its loop alone (on_train_begin to on_train_end, leaving out its per-call set-up
     of optimizer, accelerator and loader) is shown too. It needs `accelerate` installed; without it this row is
     left out.

With `--architectures` (a comma-separated list, or `all`) the same comparison runs for each architecture in turn,
every one fitted (`model.parameters`) to the non-embedding parameters of the GPT-2 that --layers/--hidden/--heads
describe, at the same depth, and a table ends the output: a row per architecture with both throughputs, their ratio
(target >= 0.95 each) and its speed against GPT-2's at that size. The HF Trainer runs there only with `--hf`. On
CPU, Mamba and Mamba2 run transformers' pure-PyTorch selective scan (one step per token, in Python): the table's
last column is what that costs. On CUDA, transformers uses the mamba-ssm and causal-conv1d kernels when they are
installed (`pip install "model-foundry[mamba]"`).

A warm-up round of all three comes first and is not counted; then rounds alternate A, B, C, C, B, A, A, B, C, ...
so that a drift in the machine's speed, and whatever the first run of a round pays or the last leaves behind (memory
the allocator has to map again, for models with large temporaries such as Mamba2's), touch all three alike. It prints tokens per second (the median over rounds, and every
round), the ratios TrainingLoop / bare (target >= 0.95) and TrainingLoop / HF Trainer (target >= 1.15), and on a
CUDA device the model FLOPs utilisation: FLOPs per token ~ 6 x parameters (position embeddings left out; the tied
token embedding counts, as the output layer's matmul) + 12 x layers x sequence length x width, the nanoGPT/PaLM
estimate, against the device's peak (a table of common GPUs, or `--peak-tflops`). On CUDA it measures fp32 (with
TF32 matmuls unless `--no-tf32`) and bf16 where the device supports it. `--profile` adds a cProfile of one more round
of each, to see where the time of a step goes.

On CPU all three run with `--threads` torch threads (default: every core). Run it on an otherwise idle machine: two
torch processes on the same cores slow each other down many times over, and a busy machine makes the rounds scatter.
"""
import argparse
import dataclasses
import gc
import math
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Peak dense tensor-core TFLOP/s by GPU (bf16 with fp32 accumulation; tf32; plain fp32), from the vendors' data sheets.
# Order matters: the first pattern that matches `torch.cuda.get_device_name()` wins.
PEAK_TFLOPS = [
    (r"H200", {"bf16": 989.0, "tf32": 494.0, "fp32": 67.0}),
    (r"H100.*PCIe", {"bf16": 756.0, "tf32": 378.0, "fp32": 51.0}),
    (r"H100.*NVL", {"bf16": 835.0, "tf32": 418.0, "fp32": 60.0}),
    (r"H100", {"bf16": 989.0, "tf32": 494.0, "fp32": 67.0}),
    (r"A100", {"bf16": 312.0, "tf32": 156.0, "fp32": 19.5}),
    (r"\bL4\b", {"bf16": 121.0, "tf32": 60.0, "fp32": 30.3}),
    (r"\bA10\b", {"bf16": 125.0, "tf32": 62.5, "fp32": 31.2}),
    (r"V100", {"tf32": 15.7, "fp32": 15.7}),  # no bf16, no TF32: fp32 runs on the CUDA cores
    (r"4090", {"bf16": 165.2, "tf32": 82.6, "fp32": 82.6}),
]
TARGETS = {"bare": 0.95, "hf": 1.15}  # TrainingLoop's throughput over the others', at least
NAMES = {"foundry": "Model Foundry TrainingLoop", "bare": "bare PyTorch loop", "hf": "HF Trainer",
         "hf_loop": "HF Trainer, its loop only"}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a smoke run of about a minute (fewer steps and rounds)")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps per round (default 60; --quick: 15)")
    p.add_argument("--rounds", type=int, default=None, help="counted rounds of the three (default 5; --quick: 2)")
    p.add_argument("--warmup-round-steps", type=int, default=10, help="steps of the uncounted first round (default 10)")
    p.add_argument("--architectures", default="gpt2", help="comma-separated architectures, or all (default gpt2); "
                                                              "each fitted to the size of the GPT-2 below")
    p.add_argument("--hf", action="store_true", help="with several architectures, time the HF Trainer too")
    p.add_argument("--round-seconds", type=float, default=40, help="with several architectures and no --steps, a "
                   "round has as many steps as take about this long, from 5 to 30 (default 40 seconds)")
    p.add_argument("--layers", type=int, default=4, help="transformer blocks (default 4)")
    p.add_argument("--hidden", type=int, default=128, help="width; the MLP is 4x as wide (default 128)")
    p.add_argument("--heads", type=int, default=4, help="attention heads (default 4)")
    p.add_argument("--vocab-size", type=int, default=768, help="BPE pieces; the synthetic language's 20,000 "
                                                                "sentences allow at most 788 (default 768)")
    p.add_argument("--seq-len", type=int, default=128, help="tokens per sequence (default 128)")
    p.add_argument("--batch-size", type=int, default=16, help="sequences per micro-batch (default 16)")
    p.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimizer step (default 1)")
    p.add_argument("--max-grad-norm", type=float, default=1.0, help="gradient clipping norm; 0: none (default 1.0)")
    p.add_argument("--learning-rate", type=float, default=1e-3, help="peak learning rate (default 1e-3)")
    p.add_argument("--sentences", type=int, default=20_000, help="synthetic training sentences (default 20,000)")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes, all three (default 0, "
                                                          "Model Foundry's default)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads on CPU, all three "
                                                                        f"(default: every core, {os.cpu_count()})")
    p.add_argument("--precision", choices=["fp32", "bf16"], action="append", default=None,
                   help="precision to measure; repeat for more (default: fp32, and on a GPU bf16 too)")
    p.add_argument("--no-tf32", action="store_true", help="on a GPU, fp32 matmuls without TF32")
    p.add_argument("--peak-tflops", type=float, default=None, help="the device's peak TFLOP/s for the MFU column, "
                                                                   "for every precision measured (default: a table)")
    p.add_argument("--hf-optim", default="adamw_torch", help="TrainingArguments.optim for the HF Trainer "
                                                             "(default adamw_torch, the same AdamW as the others)")
    p.add_argument("--profile", type=int, nargs="?", const=20, default=0, metavar="N",
                   help="after the rounds, profile one more round of each and print its N costliest functions "
                        "(default 20)")
    p.add_argument("--seed", type=int, default=42, help="seed of the weights and the data order (default 42)")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder (its path is printed)")
    args = p.parse_args()
    from model_foundry.model_config import ARCHITECTURES
    args.architectures = list(ARCHITECTURES) if args.architectures == "all" else args.architectures.split(",")
    if unknown := [a for a in args.architectures if a not in ARCHITECTURES]:
        p.error(f"unknown architecture(s) {', '.join(unknown)}: choose from {', '.join(ARCHITECTURES)} or all")
    several = len(args.architectures) > 1
    args.fit_steps = several and args.steps is None and not args.quick
    args.steps = args.steps or (15 if args.quick else 30 if several else 60)
    args.rounds = args.rounds or (2 if args.quick else 3 if several else 5)
    return args


# --- the setting ----------------------------------------------------------------------------------------------------

def gpt2_section(args) -> dict:
    return {"layers": args.layers, "embedding_size": args.hidden, "hidden_size": args.hidden,
            "intermediate_hidden_size": 4 * args.hidden, "attention_heads": args.heads}


def model_section(args, arch: str) -> dict:
    "The GPT-2 of --layers/--hidden/--heads, or `arch` at the same depth fitted to its non-embedding parameters."
    if arch == "gpt2": return gpt2_section(args)
    from model_foundry.model_config import ARCHITECTURES, ModelConfig, non_embedding_parameters
    size = non_embedding_parameters(ModelConfig(**gpt2_section(args)))
    heads = {"attention_heads": args.heads} if ARCHITECTURES[arch] == "transformer" else {}
    return {"architecture": arch, "layers": args.layers, **heads, "parameters": size}


def base_config(args, work: Path, arch: str = "gpt2") -> dict:
    "The experiment as a config dict: the synthetic corpus, a BPE tokenizer, a small model, no checkpoints."
    return {
        "experiment_name": "throughput", "random_seed": args.seed,
        "data": {"source_corpus": str(work / "corpus"), "batch_size": args.batch_size,
                 "max_sequence_length": args.seq_len, "num_workers": args.workers,
                 "tokenized_dir": str(work / "tokenized")},
        "tokenizer": {"output_dir": str(work / "tokenizer"), "vocab_size": args.vocab_size, "model_type": "bpe"},
        "model": model_section(args, arch),
        "training": {"output_dir": str(work / "runs" / "prepare"), "learning_rate": args.learning_rate,
                     "train_steps": max(args.steps, args.warmup_round_steps),
                     "gradient_accumulation_steps": args.grad_accum,
                     "max_grad_norm": args.max_grad_norm or None},
        "logging": {"console_level": "WARNING", "use_wandb": False},
    }


def experiment(raw: dict, steps: int, precision: str, output_dir: Path):
    "The config of one timed run."
    from model_foundry.config import parse_config
    raw = {**raw, "training": {**raw["training"], "train_steps": steps, "precision": precision,
                               "output_dir": str(output_dir)}}
    return parse_config(raw)


def flops_per_token(model, seq_len: int) -> float:
    "6 x parameters (position embeddings left out) + for attention 12 x layers x sequence length x width."
    c = model.config
    wpe = getattr(getattr(model, "transformer", None), "wpe", None)
    n = sum(p.numel() for p in model.parameters()) - (wpe.weight.numel() if wpe is not None else 0)
    attention = 12 * c.num_hidden_layers * seq_len * c.hidden_size if hasattr(c, "num_attention_heads") else 0
    return 6 * n + attention


def peak_tflops(args, precision: str):
    "The device's peak TFLOP/s for `precision` (with TF32 for fp32 unless --no-tf32), or None when unknown."
    if args.peak_tflops: return args.peak_tflops
    import torch
    name = torch.cuda.get_device_name()
    kind = "fp32" if precision == "fp32" and args.no_tf32 else "tf32" if precision == "fp32" else precision
    for pattern, peaks in PEAK_TFLOPS:
        if re.search(pattern, name): return peaks.get(kind)
    return None


# --- the three ways -------------------------------------------------------------------------------------------------

def sync(device):
    import torch
    if device.type == "cuda": torch.cuda.synchronize(device)


def timed(device, fn) -> float:
    "Seconds `fn()` takes, the device's queued work included."
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def run_foundry(args, cfg, prep, device, base_dir: Path) -> dict:
    "Model Foundry's TrainingLoop, built by `build_loop` as the Trainer builds it (no checkpoints, no held-out text)."
    from model_foundry.config import plan_steps
    from model_foundry.training.checkpointing import CheckpointManager
    from model_foundry.training.loop import build_loop
    plan = plan_steps(cfg, len(prep.data.train))
    loop = build_loop(cfg, dataclasses.replace(prep.data, test=None), plan, [], CheckpointManager(cfg, base_dir),
                      tokenizer=prep.tokenizer, device=device, progress=False)
    took = timed(device, loop.run)
    assert loop.state.step == plan.train_steps
    return {"seconds": took, "loss": loop.metrics.rows()[-1]["loss"]}


def run_bare(args, cfg, prep, device, base_dir: Path) -> dict:
    "A minimal hand-written loop with the same model, optimizer, schedule, data and precision."
    import torch
    from torch.utils.data import DataLoader

    from model_foundry.model import create_model
    t, d = cfg.training, cfg.data
    steps, accum = t.train_steps, t.gradient_accumulation_steps
    warmup = math.floor(t.warmup_ratio * steps)  # as Model Foundry's plan derives it
    torch.manual_seed(cfg.random_seed)
    model = create_model(cfg, vocab_size=len(prep.tokenizer)).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": [p for p in params if p.dim() >= 2], "weight_decay": t.weight_decay},
                                   {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}],
                                  lr=t.learning_rate, betas=(t.adam_beta1, t.adam_beta2), eps=t.adam_epsilon)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warmup if s < warmup else 1 - (s - warmup) / max(steps - warmup, 1))
    loader = DataLoader(prep.data.train, batch_size=d.batch_size, shuffle=True, drop_last=True,
                        num_workers=d.num_workers, generator=torch.Generator().manual_seed(cfg.random_seed))
    autocast = (torch.autocast(device.type, dtype=torch.bfloat16) if t.precision == "bf16" else None)
    sync(device)
    start = time.perf_counter()
    model.train()
    batches = iter(loader)
    for _step in range(steps):
        step_loss = 0.0
        for _ in range(accum):
            try: x = next(batches)
            except StopIteration:  # the next epoch
                batches = iter(loader)
                x = next(batches)
            x = x.to(device, non_blocking=True)
            if autocast is None: loss = model(input_ids=x, labels=x).loss / accum
            else:
                with autocast: loss = model(input_ids=x, labels=x).loss / accum
            loss.backward()
            step_loss += loss.detach()
        if t.max_grad_norm: torch.nn.utils.clip_grad_norm_(model.parameters(), t.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        last = step_loss.item()  # the loss a minimal loop logs: one sync a step
    sync(device)
    return {"seconds": time.perf_counter() - start, "loss": last}


def hf_available() -> bool:
    from transformers.utils import is_accelerate_available
    return is_accelerate_available()


def run_hf(args, cfg, prep, device, base_dir: Path) -> dict:
    "Hugging Face's Trainer with TrainingArguments that match the config."
    import torch
    from torch.utils.data import Dataset
    from transformers import PrinterCallback, Trainer, TrainerCallback, TrainingArguments, default_data_collator

    from model_foundry.model import create_model
    t, d = cfg.training, cfg.data
    chunks = prep.data.train

    class Chunks(Dataset):
        def __len__(self): return len(chunks)
        def __getitem__(self, i):
            x = chunks[i]
            return {"input_ids": x, "labels": x}

    class Clock(TrainerCallback):
        "When the loop itself starts and ends (after and before the set-up and wrap-up of `train()`)."
        def on_train_begin(self, *a, **k): sync(device); self.begin = time.perf_counter()
        def on_train_end(self, *a, **k): sync(device); self.end = time.perf_counter()

    torch.manual_seed(cfg.random_seed)
    model = create_model(cfg, vocab_size=len(prep.tokenizer))
    targs = TrainingArguments(
        output_dir=str(base_dir / "runs" / "hf"), max_steps=t.train_steps,
        per_device_train_batch_size=d.batch_size, gradient_accumulation_steps=t.gradient_accumulation_steps,
        learning_rate=t.learning_rate, weight_decay=t.weight_decay, adam_beta1=t.adam_beta1,
        adam_beta2=t.adam_beta2, adam_epsilon=t.adam_epsilon, optim=args.hf_optim, lr_scheduler_type="linear",
        warmup_steps=math.floor(t.warmup_ratio * t.train_steps), max_grad_norm=t.max_grad_norm or 0.0,
        bf16=t.precision == "bf16", use_cpu=device.type == "cpu", seed=cfg.random_seed,
        logging_strategy="steps", logging_steps=10, save_strategy="no", eval_strategy="no", report_to=[],
        disable_tqdm=True, log_level="error", dataloader_num_workers=d.num_workers, dataloader_drop_last=True,
        dataloader_pin_memory=False)
    clock = Clock()
    trainer = Trainer(model=model, args=targs, train_dataset=Chunks(), data_collator=default_data_collator,
                      callbacks=[clock])
    trainer.remove_callback(PrinterCallback)  # it would print every log row; ours go to a file
    took = timed(device, trainer.train)
    assert trainer.state.global_step == t.train_steps
    losses = [r["loss"] for r in trainer.state.log_history if "loss" in r]
    return {"seconds": took, "loop_seconds": clock.end - clock.begin, "loss": losses[-1] if losses else float("nan")}


RUNNERS = {"foundry": run_foundry, "bare": run_bare, "hf": run_hf}


# --- measuring ------------------------------------------------------------------------------------------------------

def same_settings(args, device) -> str:
    "Give every way the same torch threads (CPU) or TF32 setting (CUDA); say what had been changed, if anything."
    import torch
    if device.type == "cpu":
        was = torch.get_num_threads()
        torch.set_num_threads(args.threads)
        return f"torch threads to {was}" if was != args.threads else ""
    was = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = not args.no_tf32
    return f"allow_tf32 to {was}" if was != (not args.no_tf32) else ""


def profile(args, raw: dict, prep, device, precision: str, work: Path, ways: list[str]):
    "cProfile one more round of each way; print its costliest functions by their own time."
    import cProfile
    import io
    import pstats
    for way in ways:
        cfg = experiment(raw, args.steps, precision, work / "runs" / f"{way}-{precision}-profile")
        same_settings(args, device)
        gc.collect()
        prof = cProfile.Profile()
        prof.enable()
        m = RUNNERS[way](args, cfg, prep, device, work)
        prof.disable()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(args.profile)
        text = out.getvalue()
        print(f"\nprofile of {NAMES[way]}, {precision}, {args.steps} steps in {m['seconds']:.2f} s under the "
              f"profiler:\n" + text[text.find("   ncalls"):].rstrip())


def measure(args, raw: dict, prep, device, precision: str, work: Path, ways: list[str]) -> dict:
    """A warm-up round, then `args.rounds` rounds of the ways in turn; the tokens/s of each (and losses). With
    `args.fit_steps`, a round has as many steps (5 to `args.steps`) as the warm-up says take `args.round_seconds`."""
    results = {w: [] for w in ways + (["hf_loop"] if "hf" in ways else [])}
    losses, setup, counted = {w: [] for w in ways}, [], args.steps
    for r in range(args.rounds + 1):
        steps = counted if r else args.warmup_round_steps
        tokens = steps * args.batch_size * args.grad_accum * args.seq_len
        for way in (ways if r % 2 else ways[::-1]):  # the warm-up and even rounds in the reverse order
            out = work / "runs" / f"{way}-{precision}-{r}"
            cfg = experiment(raw, steps, precision, out)
            same_settings(args, device)
            gc.collect()
            m = RUNNERS[way](args, cfg, prep, device, work)
            if changed := same_settings(args, device):
                print(f"  note: {NAMES[way]} changed {changed}; set back for the next", file=sys.stderr)
            shutil.rmtree(out, ignore_errors=True)
            if r == 0 and way == "foundry" and args.fit_steps:
                counted = max(5, min(args.steps, round(args.round_seconds * steps / m["seconds"])))
            if r == 0: continue  # the warm-up round
            results[way].append(tokens / m["seconds"])
            if way == "hf":
                results["hf_loop"].append(tokens / m["loop_seconds"])
                setup.append(m["seconds"] - m["loop_seconds"])
            losses[way].append(m["loss"])
        print(f"  {'warm-up round' if r == 0 else f'round {r}/{args.rounds}'} done", file=sys.stderr, flush=True)
    return {"tps": results, "loss": losses, "hf_setup": setup, "steps": counted}


def report(args, res: dict, precision: str, device, fpt: float):
    "Print one precision's table and ratios."
    import torch
    med = {w: statistics.median(v) for w, v in res["tps"].items()}
    peak = peak_tflops(args, precision) if device.type == "cuda" else None
    label = precision + (" (TF32 matmuls)" if precision == "fp32" and device.type == "cuda" and not args.no_tf32
                         else "")
    where = (f"{torch.cuda.get_device_name()}" if device.type == "cuda" else
             f"CPU, {args.threads} torch threads of {os.cpu_count()} cores")
    print(f"\n{label} on {where}: median of {args.rounds} rounds of {res['steps']} steps"
          + (f"; MFU against a peak of {peak:g} TFLOP/s" if peak else "; MFU: peak unknown, give --peak-tflops"
             if device.type == "cuda" else ""))
    print(f"  {'':<28} {'tokens/s':>10}  {'TFLOP/s':>8}{'      MFU' if peak else ''}   tokens/s of each round")
    for w, v in res["tps"].items():
        mfu = f"  {med[w] * fpt / (peak * 1e12):7.2%}" if peak else ""
        print(f"  {NAMES[w]:<28} {med[w]:>10,.0f}  {med[w] * fpt / 1e12:>8.4f}{mfu}   "
              f"{', '.join(f'{x:,.0f}' for x in v)}")
    print("  TrainingLoop's throughput over the others': ratio of the medians, then the ratio within each round")
    for other in ["bare", "hf", "hf_loop"]:
        if other not in med: continue
        ratio, target = med["foundry"] / med[other], TARGETS.get(other)
        rounds = [a / b for a, b in zip(res["tps"]["foundry"], res["tps"][other])]
        verdict = (f"target >= {target:.2f}: {'met' if ratio >= target else 'NOT met'}" if target else
                   f"set-up of {statistics.median(res['hf_setup']):.2f} s a call left out")
        print(f"  TrainingLoop / {NAMES[other] + ':':<26} {ratio:5.3f}   {verdict:<26}   "
              f"{', '.join(f'{x:.3f}' for x in rounds)}")
    print("  last logged loss (median over rounds): " + ", ".join(
        f"{NAMES[w]} {statistics.median(v):.3f}" for w, v in res["loss"].items())
          + ("  (HF Trainer's is the mean of its last 10 steps)" if "hf" in res["loss"] else ""))


def summary(args, rows: list[tuple]):
    "The table of every architecture: throughputs, their ratio, and speed against GPT-2 at the same size."
    print(f"\nevery architecture at about {rows[0][2] / 1e6:.3g}M non-embedding parameters, {args.layers} layers, "
          f"sequences of {args.seq_len}, {args.batch_size} x {args.grad_accum} a step; median tokens/s of "
          f"{args.rounds} rounds (of the steps shown)")
    gpt2 = {p: r["tps"]["foundry"] for a, p, _, _, r in rows if a == "gpt2"}
    print(f"  {'architecture':<12} {'precision':<9} {'shape':<24} {'non-emb.':>9} {'steps':>5} {'TrainingLoop':>12} "
          f"{'bare loop':>10} {'ratio':>6}  {'>= 0.95':<8} {'vs gpt2':>8}")
    for arch, precision, n, shape, r in rows:
        foundry, bare = (statistics.median(r["tps"][w]) for w in ("foundry", "bare"))
        vs = f"{foundry / statistics.median(gpt2[precision]):.3f}x" if precision in gpt2 else ""
        print(f"  {arch:<12} {precision:<9} {shape:<24} {n / 1e6:>8.3g}M {r['steps']:>5} {foundry:>12,.0f} {bare:>10,.0f} "
              f"{foundry / bare:>6.3f}  {'met' if foundry / bare >= TARGETS['bare'] else 'NOT met':<8} {vs:>8}")


def main():
    args = parse_args()
    import torch
    import transformers

    from model_foundry.config import parse_config
    from model_foundry.model import create_model, model_summary
    from model_foundry.model_config import non_embedding_parameters
    from model_foundry.synthetic import write_corpus
    from model_foundry.trainer import Trainer
    from model_foundry.training.tracking import setup_logging
    transformers.logging.set_verbosity_error()
    setup_logging("WARNING")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    same_settings(args, device)
    precisions = args.precision or (["fp32", "bf16"] if device.type == "cuda" and torch.cuda.is_bf16_supported()
                                    else ["fp32"])
    several = len(args.architectures) > 1
    ways = ["foundry", "bare"] + (["hf"] if hf_available() and (args.hf or not several) else [])
    if (args.hf or not several) and "hf" not in ways:
        print("HF Trainer left out: transformers.Trainer needs the `accelerate` package (pip install accelerate)",
              file=sys.stderr)

    work = Path(tempfile.mkdtemp(prefix="throughput-bench-"))
    try:
        start = time.perf_counter()
        write_corpus(work / "corpus", n_train=args.sentences, seed=0)
        prep = Trainer(parse_config(base_config(args, work)), work).prepare()  # the data, the same for every model
        data = prep.data.train
        print(f"{len(data):,} training sequences of {data.seq_len} tokens ({args.sentences:,} synthetic sentences; "
              f"prepared in {time.perf_counter() - start:.1f} s); {args.batch_size} x {args.grad_accum} sequences a "
              f"step; torch {torch.__version__}, transformers {transformers.__version__}")
        rows = []
        for arch in args.architectures:
            raw = base_config(args, work, arch)
            cfg = parse_config(raw)
            model = create_model(cfg, vocab_size=len(prep.tokenizer))
            fpt = flops_per_token(model, args.seq_len)
            m = cfg.model
            shape = f"{m.layers} x {m.hidden_size}" + (f", MLP {m.intermediate_hidden_size}"
                                                        if m.intermediate_hidden_size else "")
            print(f"\n{model_summary(model)}; {fpt / 1e6:.2f} MFLOPs a token")
            del model
            for precision in precisions:
                res = measure(args, raw, prep, device, precision, work, ways)
                report(args, res, precision, device, fpt)
                rows.append((arch, precision, non_embedding_parameters(m), shape, res))
                if args.profile: profile(args, raw, prep, device, precision, work, ways)
        if several: summary(args, rows)
    finally:
        if args.keep: print(f"scratch folder kept: {work}")
        else: shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__": main()
