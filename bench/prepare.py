"""Corpus preparation of Model Foundry (`prepare_data`) against Hugging Face `datasets` (`load_dataset` + `map`).

    .venv/bin/python bench/prepare.py                  # 50 MB and 200 MB of text: about 10 minutes on 2 CPU cores
    .venv/bin/python bench/prepare.py --quick          # 20 MB only: a smoke run of a minute or two
    .venv/bin/python bench/prepare.py --sizes 100 --workers 4 --keep   # other sizes, workers; keep the files

For each corpus size it writes a BabyLM-like corpus of synthetic sentences (one sentence a line, split across
`--files` `.train` files): a pool of `--pool` sentences is drawn from `model_foundry.synthetic` once, and each file is
filled with blocks of the pool, each block in its own random order (numpy), until it has its share of the size.
A SentencePiece tokenizer (`--model-type`, `--vocab-size`) is trained once, on the pool, with
`train_tokenizer`, which also writes its Hugging Face files. Neither is counted. Then, each in a fresh child process:

  1. Model Foundry: `prepare_data(config, tokenizer, tokenizer_fingerprint, base_dir, workers=N)` into an empty
     tokenized folder: the files are tokenized into shards by N worker processes, then assembled into train.bin.
  2. The cache check: `prepare_data` again on the unchanged corpus, in a new process as a new command would run it;
     it must find the prepared data (`PreparedData.reused`, the log line "... nothing to do") in under 2 s. The part
     of it that checks the prepared files against the SHA-256 recorded when they were written is timed alone too.
  3. The baseline, `datasets`: `load_dataset("text", data_files=..., num_proc=N)` into a new, empty cache folder
     (so nothing is reused), then `.map(tokenize, batched=True, num_proc=N, remove_columns=["text"])`, where
     `tokenize` gives the ids of the batch's non-blank lines with (a) the tokenizer object Model Foundry uses, the
     SentencePiece wrapper (`encode_batch`), and (b) the Hugging Face fast tokenizer loaded from the same folder
     (`AutoTokenizer`, `add_special_tokens=False`); two rows. Each map worker loads the tokenizer once.

What is timed is the call (`prepare_data`; `load_dataset` and `map` together), after the child's imports and the
loading of the tokenizer, in wall-clock seconds and in CPU seconds (of the child and of the worker processes it waited
for: less sensitive than wall time to other work on the machine); the child's whole life (Python start and imports
included) is shown too. Peak memory is the largest sum, over the child and all its descendants (found through
/proc/<pid>/task/*/children), of their PSS (/proc/<pid>/smaps_rollup; RSS where that is missing), sampled every
`--interval` seconds over the child's whole life: the memory those processes together hold, pages shared between them
counted once. It prints, for each size and way: MB of text (10^6 bytes), seconds, MB/s, tokens/s (framed tokens:
each non-blank line's ids plus BOS and EOS), peak MiB, whether the peak stays under 1 GiB, and CPU seconds; the speed
of Model Foundry over each baseline's (target: at least 2x), and the ratio of their CPU seconds; the peaks of all sizes
side by side (they should not grow with the corpus); and, as a check of correctness, Model Foundry's train-split token
count against the sum over non-blank lines of len(ids) + 2 from the baseline with the wrapper.

All children run with OMP_NUM_THREADS=1 and TOKENIZERS_PARALLELISM=false (the worker processes are the parallelism,
one per core, for both). Run it on an otherwise idle machine: other work on the same cores scatters the timings.
"""
import argparse
import glob
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MB, MiB, GiB = 10**6, 1 << 20, 1 << 30
TARGET_SPEEDUP, TARGET_CACHE_S = 2.0, 2.0
BASELINES = {"wrapper": "datasets map, SentencePiece wrapper", "hf": "datasets map, HF fast tokenizer"}


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="50,200", help="corpus sizes in MB (10^6 bytes), comma-separated "
                                                     "(default 50,200)")
    p.add_argument("--quick", action="store_true", help="a smoke run: one corpus of 20 MB (unless --sizes is given)")
    p.add_argument("--workers", type=int, default=cores(), help=f"tokenizing processes of Model Foundry and num_proc "
                                                                f"of datasets (default: every core, {cores()})")
    p.add_argument("--files", type=int, default=4, help="text files a corpus is split across (default 4)")
    p.add_argument("--pool", type=int, default=300_000, help="synthetic sentences drawn once; every corpus is made "
                                                             "of them (default 300,000)")
    p.add_argument("--model-type", choices=["unigram", "bpe"], default="unigram", help="SentencePiece algorithm "
                                                                                       "(default unigram)")
    p.add_argument("--vocab-size", type=int, default=None, help="pieces; the synthetic language's small vocabulary "
                                                                "allows at most ~179 with unigram (default 170; with "
                                                                "bpe 768)")
    p.add_argument("--input-sentence-size", type=int, default=200_000, help="lines sampled to train the tokenizer "
                                                                            "(default 200,000)")
    p.add_argument("--seq-len", type=int, default=128, help="max_sequence_length of the config (default 128)")
    p.add_argument("--no-baseline", action="store_true", help="time Model Foundry only")
    p.add_argument("--interval", type=float, default=0.05, help="seconds between memory samples (default 0.05)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sentences and their order (default 0)")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder (its path is printed)")
    p.add_argument("--child", help=argparse.SUPPRESS)  # a JSON spec: run one measured step, in a child process
    args = p.parse_args()
    if args.child is None:
        if args.quick and p.get_default("sizes") == args.sizes: args.sizes = "20"
        args.sizes = [float(s) for s in args.sizes.split(",") if s.strip()]
        args.vocab_size = args.vocab_size or (170 if args.model_type == "unigram" else 768)
    return args


# --- the corpus -----------------------------------------------------------------------------------------------------

def make_pool(n: int, seed: int):
    "`n` synthetic sentences as a numpy array of strings (objects)."
    import numpy as np

    from model_foundry.synthetic import generate_sentences
    return np.array(generate_sentences(n, seed), dtype=object)


def write_corpus(folder: Path, size: int, files: int, pool, seed: int) -> dict:
    "Fill `files` files `part<i>.train` with `size` bytes in all of whole lines: blocks of the pool, each shuffled."
    import numpy as np
    folder.mkdir(parents=True)
    rng = np.random.default_rng([seed, size])
    lines = written = 0
    for i in range(files):
        want = size * (i + 1) // files - written  # this file's share
        with open(folder / f"part{i}.train", "wb") as f:
            have = 0
            while have < want:
                block = ("\n".join(pool[rng.permutation(len(pool))]) + "\n").encode("utf-8")
                if have + len(block) > want:  # cut after the last whole line that fits (at least one line)
                    cut = block.rfind(b"\n", 0, want - have) + 1 or block.find(b"\n") + 1
                    block = block[:cut]
                f.write(block)
                have += len(block)
                lines += block.count(b"\n")
        written += have
    return {"bytes": written, "lines": lines}


# --- measuring a child process --------------------------------------------------------------------------------------

def process_tree(pid: int) -> list[int]:
    "`pid` and all its descendants, through /proc/<pid>/task/*/children."
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for f in glob.glob(f"/proc/{p}/task/*/children"):
            try: todo += [int(c) for c in Path(f).read_text().split()]
            except OSError: pass  # it ended meanwhile
    return out


def memory_of(pid: int) -> tuple[int, str]:
    "Bytes of PSS of a process (RSS where smaps_rollup is missing), and which of the two; 0 when it has ended."
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"): return int(line.split()[1]) * 1024, "PSS"
    except OSError: pass
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"): return int(line.split()[1]) * 1024, "RSS"
    except OSError: pass
    return 0, "PSS"


def run_child(spec: dict, work: Path, interval: float) -> dict:
    "Run this script on `spec` in a child process; its result, wall time and peak memory (with its descendants)."
    spec = {**spec, "result": str(work / f"result-{time.monotonic_ns()}.json")}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
           "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}
    err = work / "child-stderr.txt"
    start = time.perf_counter()
    with open(err, "w") as stderr:
        proc = subprocess.Popen([sys.executable, __file__, "--child", json.dumps(spec)], env=env,
                                stdout=subprocess.DEVNULL, stderr=stderr)
        peak, kinds, samples = 0, set(), 0
        while proc.poll() is None:
            total = 0
            for pid in process_tree(proc.pid):
                b, kind = memory_of(pid)
                total += b; kinds.add(kind)
            peak, samples = max(peak, total), samples + 1
            time.sleep(interval)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"the {spec['kind']} child failed (exit status {proc.returncode}):\n"
                 + "\n".join(err.read_text().splitlines()[-30:]))
    result = json.loads(Path(spec["result"]).read_text())
    Path(spec["result"]).unlink()
    return {**result, "wall": wall, "peak": peak, "measure": "+".join(sorted(kinds)), "samples": samples}


# --- what the children run ------------------------------------------------------------------------------------------

def cpu_seconds() -> float:
    "CPU time (user and system) of this process and of the children it has waited for."
    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def child_foundry(spec: dict) -> dict:
    "Model Foundry's `prepare_data` on the corpus, as a run's preparation calls it."
    import logging

    from model_foundry.config import parse_config
    from model_foundry.data import prepare_data
    from model_foundry.training.tokenization import load_tokenizer, tokenizer_fingerprint
    messages = []

    class Keep(logging.Handler):
        def emit(self, record): messages.append(record.getMessage())
    log = logging.getLogger("model_foundry.data")
    log.setLevel(logging.INFO)
    log.addHandler(Keep())
    work = Path(spec["work"])
    cfg = parse_config({
        "experiment_name": "prepare_bench", "random_seed": 0,
        "data": {"source_corpus": spec["corpus"], "batch_size": 16, "max_sequence_length": spec["seq_len"],
                 "tokenized_dir": spec["tokenized"]},
        "tokenizer": {"output_dir": spec["tokenizer"], "vocab_size": spec["vocab_size"],
                      "model_type": spec["model_type"]},
        "model": {"layers": 1, "embedding_size": 16, "hidden_size": 16, "intermediate_hidden_size": 32,
                  "attention_heads": 2},
        "training": {"output_dir": str(work / "run"), "learning_rate": 1e-3, "train_steps": 1},
        "logging": {"console_level": "WARNING", "use_wandb": False}})
    tok_dir = Path(spec["tokenizer"])
    tokenizer = load_tokenizer(tok_dir)
    start, cpu = time.perf_counter(), cpu_seconds()
    data = prepare_data(cfg, tokenizer, tokenizer_fingerprint(tok_dir), work, workers=spec["workers"])
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    train = data.meta["splits"]["train"]
    out = {"seconds": seconds, "cpu": cpu, "tokens": train["tokens"], "documents": train["documents"],
           "bytes": train["bytes"], "reused": data.reused,
           "nothing_to_do": any("nothing to do" in m for m in messages)}
    if data.reused:  # the share of the call that checked the prepared files against their recorded hashes, alone
        from model_foundry import helpers
        helpers._hashes.clear()  # as in the call: no hash remembered from before
        start = time.perf_counter()
        assert not helpers.changed_files(data.path, data.meta["file_hashes"])
        out["verify_seconds"] = time.perf_counter() - start
        out["verify_bytes"] = sum((data.path / name).stat().st_size for name in data.meta["file_hashes"])
    return out


_TOKENIZERS: dict = {}  # the tokenizer of each map worker, loaded on its first batch


def tokenize_batch(batch: dict, folder: str, kind: str) -> dict:
    "Ids of the batch's non-blank lines, without special tokens, with the wrapper or the HF fast tokenizer."
    tok = _TOKENIZERS.get(kind)
    if tok is None:
        if kind == "wrapper":
            from model_foundry.training.tokenization import load_tokenizer
            tok = load_tokenizer(folder)
        else:
            from transformers import AutoTokenizer
            tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        _TOKENIZERS[kind] = tok
    lines = [t for t in batch["text"] if t.strip()]
    ids = tok.encode_batch(lines) if kind == "wrapper" else tok(lines, add_special_tokens=False)["input_ids"]
    return {"input_ids": ids}


def child_datasets(spec: dict) -> dict:
    "`datasets.load_dataset('text')` and a batched `map` that tokenizes, into a new cache folder."
    import datasets
    import pyarrow.compute as pc
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    n = spec["workers"] if spec["workers"] > 1 else None
    start, cpu = time.perf_counter(), cpu_seconds()
    ds = datasets.load_dataset("text", data_files=spec["files"], split="train", cache_dir=spec["cache"], num_proc=n)
    ds = ds.map(tokenize_batch, batched=True, num_proc=n, remove_columns=["text"],
                fn_kwargs={"folder": spec["tokenizer"], "kind": spec["tokenizer_kind"]})
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    ids = ds.data.column("input_ids")
    body = int(pc.sum(pc.list_value_length(ids)).as_py() or 0)
    return {"seconds": seconds, "cpu": cpu, "documents": len(ds), "tokens": body + 2 * len(ds),
            "body_tokens": body, "cache_files": len(ds.cache_files)}


def child_main(spec: dict):
    result = {"foundry": child_foundry, "datasets": child_datasets}[spec["kind"]](spec)
    Path(spec["result"]).write_text(json.dumps(result))


# --- the report -----------------------------------------------------------------------------------------------------

def row(name: str, r: dict, text_bytes: int, tokens: int) -> str:
    s = r["seconds"]
    return (f"  {name:<44} {text_bytes / MB:7.1f} {s:9.2f} {text_bytes / MB / s:8.2f} {tokens / s:12,.0f} "
            f"{r['peak'] / MiB:9.0f}  {'yes' if r['peak'] < GiB else 'NO':>7}  {r['cpu']:8.2f} {r['wall']:9.2f}")


def measure_size(args, mb: float, work: Path, pool, tok_dir: Path) -> dict:
    "Write a corpus of `mb` MB, then time Model Foundry (fresh, then reused) and the baselines on it."
    where = work / f"{mb:g}MB"
    t = time.perf_counter()
    corpus = write_corpus(where / "corpus", int(mb * MB), args.files, pool, args.seed)
    files = sorted(str(f) for f in (where / "corpus").glob("*.train"))
    print(f"\n{mb:g} MB corpus: {len(files)} files, {corpus['bytes']:,} bytes, {corpus['lines']:,} lines "
          f"(written in {time.perf_counter() - t:.1f} s, not counted)", flush=True)
    spec = {"kind": "foundry", "work": str(where), "corpus": str(where / "corpus"),
            "tokenized": str(where / "tokenized"), "tokenizer": str(tok_dir), "vocab_size": args.vocab_size,
            "model_type": args.model_type, "seq_len": args.seq_len, "workers": args.workers}
    res = {"mb": mb, "corpus": corpus, "foundry": run_child(spec, where, args.interval)}
    print(f"  Model Foundry prepare_data: {res['foundry']['seconds']:.2f} s", file=sys.stderr, flush=True)
    res["cached"] = run_child(spec, where, args.interval)
    print(f"  second prepare_data: {res['cached']['seconds']:.2f} s", file=sys.stderr, flush=True)
    for kind in ([] if args.no_baseline else BASELINES):
        cache = where / f"datasets-cache-{kind}"
        res[kind] = run_child({"kind": "datasets", "files": files, "cache": str(cache), "tokenizer": str(tok_dir),
                               "tokenizer_kind": kind, "workers": args.workers}, where, args.interval)
        shutil.rmtree(cache, ignore_errors=True)
        print(f"  {BASELINES[kind]}: {res[kind]['seconds']:.2f} s", file=sys.stderr, flush=True)
    if not args.keep: shutil.rmtree(where, ignore_errors=True)
    return res


def report_size(args, res: dict):
    f, c, text = res["foundry"], res["cached"], res["corpus"]["bytes"]
    tokens = f["tokens"]
    print(f"  {'way':<44} {'MB':>7} {'seconds':>9} {'MB/s':>8} {'tokens/s':>12} {'peak MiB':>9}  {'< 1 GiB':>7}  "
          f"{'CPU s':>8} {'process s':>9}")
    print(row(f"Model Foundry prepare_data ({args.workers} workers)", f, text, tokens))
    for kind, name in BASELINES.items():
        if kind in res: print(row(f"{name} ({args.workers} proc)", res[kind], text, res[kind]["tokens"]))
    for kind, name in BASELINES.items():
        if kind not in res: continue
        ratio = res[kind]["seconds"] / f["seconds"]
        print(f"  Model Foundry's speed / {name}'s: {ratio:.2f}x   (target >= {TARGET_SPEEDUP:g}x: "
              f"{'met' if ratio >= TARGET_SPEEDUP else 'NOT met'}); in CPU time: "
              f"{res[kind]['cpu'] / f['cpu']:.2f}x")
    print(f"  second prepare_data on the unchanged corpus, in a new process: {c['seconds']:.3f} s the call, "
          f"{c['wall']:.2f} s the whole process (Python start and imports included); reused: {c['reused']}; log "
          f"said 'nothing to do': {'yes' if c['nothing_to_do'] else 'no'}; target < {TARGET_CACHE_S:g} s for the "
          f"call: {'met' if c['reused'] and c['seconds'] < TARGET_CACHE_S else 'NOT met'}; peak {c['peak'] / MiB:.0f} "
          f"MiB")
    if "verify_seconds" in c:
        print(f"  of that call, checking the prepared files against the SHA-256 recorded when they were written: "
              f"{c['verify_seconds']:.3f} s for {c['verify_bytes'] / MB:,.1f} MB "
              f"({c['verify_bytes'] / MB / c['verify_seconds']:,.0f} MB/s, the files in the page cache)")
    if "wrapper" in res:
        b = res["wrapper"]
        same = b["tokens"] == tokens and b["documents"] == f["documents"]
        print(f"  tokens: Model Foundry's train split {tokens:,} ({f['documents']:,} documents); sum over non-blank "
              f"lines of len(ids) + 2 from the baseline with the wrapper {b['tokens']:,} ({b['documents']:,} lines): "
              f"{'they match' if same else 'they DIFFER'}")
        if "hf" in res:
            h = res["hf"]
            print(f"  the HF fast tokenizer's ids come to {h['tokens']:,} framed tokens: "
                  f"{'the same' if h['tokens'] == b['tokens'] else 'NOT the same'} as the wrapper's")
    else:
        print(f"  tokens: Model Foundry's train split {tokens:,} ({f['documents']:,} documents); no baseline to "
              f"check them against (--no-baseline)")


def main():
    args = parse_args()
    if args.child is not None: return child_main(json.loads(args.child))
    os.environ.setdefault("OMP_NUM_THREADS", "1"); os.environ.setdefault("MKL_NUM_THREADS", "1")
    import datasets
    import numpy as np
    import sentencepiece
    import transformers

    from model_foundry.config import TokenizerConfig
    from model_foundry.training.tokenization import train_tokenizer
    work = Path(tempfile.mkdtemp(prefix="prepare-bench-"))
    try:
        t = time.perf_counter()
        pool = make_pool(args.pool, args.seed)
        pool_s = time.perf_counter() - t
        print(f"corpus: a pool of {len(pool):,} synthetic sentences ({len(set(pool)):,} distinct, "
              f"{np.mean([len(s) for s in pool]) + 1:.1f} bytes a line) drawn in {pool_s:.1f} s (not counted); each "
              f"corpus is {args.files} .train files of shuffled blocks of it")
        (work / "pool").mkdir()
        pool_file = work / "pool" / "pool.train"
        pool_file.write_text("\n".join(pool) + "\n")
        t = time.perf_counter()
        tok_dir = work / "tokenizer"
        cfg = TokenizerConfig(output_dir=str(tok_dir), vocab_size=args.vocab_size, model_type=args.model_type,
                              input_sentence_size=args.input_sentence_size)
        tok = train_tokenizer([pool_file], cfg, tok_dir, seed=args.seed)
        print(f"tokenizer: SentencePiece {args.model_type}, {len(tok)} pieces, trained on "
              f"{min(args.input_sentence_size or len(pool), len(pool)):,} sampled lines in "
              f"{time.perf_counter() - t:.1f} s (not counted); Hugging Face files beside it")
        print(f"{args.workers} worker processes of {cores()} cores; datasets {datasets.__version__}, transformers "
              f"{transformers.__version__}, sentencepiece {sentencepiece.__version__}; seconds: of the call (after "
              f"the child's imports); CPU s: the call's CPU time, its worker processes' included; process s: the "
              f"child's whole life; peak: the summed "
              f"PSS of the child and its descendants, sampled every {args.interval:g} s; load average "
              f"before the first child (other work on the machine): {os.getloadavg()[0]:.2f}")
        results = []
        for mb in args.sizes:
            res = measure_size(args, mb, work, pool, tok_dir)
            report_size(args, res)
            results.append(res)
        if len(results) > 1:
            print("\npeak memory by corpus size (MiB):")
            for kind, name in [("foundry", "Model Foundry prepare_data"), *BASELINES.items()]:
                if kind not in results[0]: continue
                print(f"  {name:<44} " + "   ".join(f"{r['mb']:g} MB: {r[kind]['peak'] / MiB:6.0f}"
                                                    for r in results))
            a, b = results[0]["foundry"]["peak"], results[-1]["foundry"]["peak"]
            print(f"  Model Foundry's peak at {results[-1]['mb']:g} MB / at {results[0]['mb']:g} MB: {b / a:.2f} "
                  f"(for {results[-1]['mb'] / results[0]['mb']:.1f}x the text)")
        measures = {r[k]["measure"] for r in results for k in r if isinstance(r[k], dict) and "measure" in r[k]}
        if measures != {"PSS"}: print(f"note: memory measured as {', '.join(sorted(measures))} (RSS where "
                                      f"/proc/<pid>/smaps_rollup was missing)")
    finally:
        if args.keep: print(f"scratch folder kept: {work}")
        else: shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__": main()
