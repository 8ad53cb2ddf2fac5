"""Shared fixtures and markers for the integration and end-to-end tests.

Notebook tests live in the notebooks themselves (tests/test_notebooks.py runs them); what is here serves tests
that cross modules: whole runs, the command line, resuming after a kill.
"""
import copy
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Optional

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    import torch
    run_slow = config.getoption("--runslow") or "slow" in os.environ.get("MODEL_FOUNDRY_TEST_FLAGS", "").split()
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow (make test-slow)")
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "slow" in item.keywords and not run_slow: item.add_marker(skip_slow)
        if "gpu" in item.keywords and not torch.cuda.is_available(): item.add_marker(skip_gpu)


# ---------------------------------------------------------------- configuration
# The tiny experiment. `tiny_config` keeps the names and values that tests written for the original Model Foundry
# expect; `tiny_config_dict` is the same experiment set up to train on disk in seconds, its changes spelled out.

TINY = {
    "experiment_name": "test_exp", "random_seed": 42,
    "data": {"source_corpus": "test/data", "training_corpus": "test/data/train", "batch_size": 2,
             "max_sequence_length": 32, "num_workers": 0},
    "tokenizer": {"output_dir": "test/tokenizer", "vocab_size": 1000},
    "model": {"layers": 2, "embedding_size": 64, "hidden_size": 64, "intermediate_hidden_size": 128,
              "attention_heads": 2, "activation_function": "gelu", "dropout": 0.1, "attention_dropout": 0.1},
    "training": {"output_dir": "test/output", "learning_rate": 1e-4, "adam_beta1": 0.9, "adam_beta2": 0.999,
                 "adam_epsilon": 1e-8, "epochs": 1, "train_steps": 10, "warmup_steps": 2, "use_amp": False,
                 "use_tf32": False, "use_gradient_checkpointing": False, "gradient_accumulation_steps": 1},
    "logging": {"level": "INFO", "dir": "test/logs", "use_wandb": False},
}

# to train on the synthetic corpus of `tiny_corpus`: a vocabulary it can fill, no dropout (runs compared step by
# step), a learning rate that moves in 20 steps, and checkpoints at 0, 5, 10 and 20
ON_DISK = {"experiment_name": "tiny", "random_seed": 0, "data": {"batch_size": 4}, "tokenizer": {"vocab_size": 120},
           "model": {"attention_heads": 4, "activation_function": "gelu_new", "dropout": 0.0, "attention_dropout": 0.0},
           "training": {"learning_rate": 3e-3, "train_steps": 20, "checkpoint_schedule": [0, 5, 10, 20]},
           "logging": {"level": "INFO", "dir": "logs"}}


# a model section of about the same size per architecture (the conftest's tiny GPT-2 is 2 layers of width 64)
ARCHITECTURE_SECTIONS = {
    "gpt2": dict(layers=2, hidden_size=64, intermediate_hidden_size=128, attention_heads=4),
    "llama": dict(architecture="llama", layers=2, hidden_size=64, intermediate_hidden_size=128, attention_heads=4,
                  key_value_heads=2),
    "gpt_neox": dict(architecture="gpt_neox", layers=2, hidden_size=64, intermediate_hidden_size=128, attention_heads=4),
    "mamba": dict(architecture="mamba", layers=2, hidden_size=64, state_size=8),
    "mamba2": dict(architecture="mamba2", layers=2, hidden_size=64, head_dim=32, state_size=8),
    "lstm": dict(architecture="lstm", layers=2, embedding_size=48, hidden_size=64),
    "gru": dict(architecture="gru", layers=2, embedding_size=48, hidden_size=64),
    "rnn": dict(architecture="rnn", layers=2, embedding_size=48, hidden_size=64),
}

def tiny_config_dict(root: Path, **training) -> dict:
    "The tiny experiment as a config dict whose paths live under `root` (corpus/, tokenizer/, run/), for runs on disk."
    d = copy.deepcopy(TINY)
    for k, v in ON_DISK.items():
        if isinstance(v, dict): d[k].update(v)
        else: d[k] = v
    d["data"].update(source_corpus=str(root / "corpus"), training_corpus=str(root / "corpus"))
    d["tokenizer"]["output_dir"] = str(root / "tokenizer")
    d["training"].update({"output_dir": str(root / "run"), **training})
    return d


def architecture_config_dict(ws: Path, arch: str, name: str, **training) -> dict:
    "The tiny experiment with `arch`'s model section (no dropout), training into `ws/name`, a metrics row every step."
    d = tiny_config_dict(ws, **training)
    d["model"] = {**ARCHITECTURE_SECTIONS[arch], "dropout": 0.0, "attention_dropout": 0.0}
    d["training"]["output_dir"] = str(ws / name)
    d["logging"]["log_metrics_every_n_steps"] = 1
    return d


@pytest.fixture
def tiny_config():
    "A minimal valid `ExperimentConfig` (2 layers, width 64, 10 steps) for tests that do not touch the disk."
    from model_foundry.config import ExperimentConfig
    return ExperimentConfig(**copy.deepcopy(TINY))


def write_config(ws: Path, d: Optional[dict] = None, name: str = "exp", **training) -> Path:
    "Write a config (default: `tiny_config_dict(ws, **training)`) to `ws/configs/<name>.yaml`; return its path."
    path = ws / "configs" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(tiny_config_dict(ws, **training) if d is None else d, sort_keys=False))
    return path


# ---------------------------------------------------------------- commands, as a user runs them

PY = sys.executable
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # tests run side by side, one torch thread each


def run_python(*args, cwd: Path, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    "`python *args` in `cwd`, its output captured as text."
    return subprocess.run([PY, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=kw.pop("env", ENV), **kw)


def run_cli(*args, cwd: Path, **kw) -> subprocess.CompletedProcess:
    "`model-foundry *args` in `cwd`."
    return run_python("-m", "model_foundry.cli", *args, cwd=cwd, **kw)


def trainer_command(config, processes: int = 1) -> list[str]:
    "The command that trains `config`: `python -m model_foundry.trainer`, under `torchrun` for several processes."
    launch = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"] if processes > 1 else []
    return [PY, *launch, "-m", "model_foundry.trainer", str(config)]


def run_trainer(config, cwd: Path, processes: int = 1, **kw) -> subprocess.CompletedProcess:
    "Train `config` in `cwd` as the command line does (with `processes` processes under `torchrun`)."
    return run_python(*trainer_command(config, processes)[1:], cwd=cwd, **kw)


# ---------------------------------------------------------------- what is on disk

def files_under(root: Path, ignore=()) -> dict:
    "Every file under `root` (its path relative to `root`) with its size and modification time; names in `ignore` left out."
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")
            if p.is_file() and p.name not in ignore}


def last_step(run: Path) -> int:
    "The last step `run` has logged to metrics.jsonl (0 before any, or while it cannot be read)."
    from model_foundry.training.tracking import RunError, read_metrics
    try: return max((r["step"] for r in read_metrics(run)), default=0)
    except (OSError, ValueError, RunError): return 0


def checkpoints(run: Path) -> list:
    "The `checkpoint-<step>` folders of a run directory, by step (none when it does not exist)."
    if not run.is_dir(): return []
    return sorted((p for p in run.glob("checkpoint-*") if p.is_dir() and p.name[11:].isdigit()),
                  key=lambda p: int(p.name[11:]))


@pytest.fixture
def invalid_config_data():
    "A config dict with an invalid value in every section."
    return {"experiment_name": "test",
            "data": {"source_corpus": "test", "training_corpus": "test", "batch_size": -5, "max_sequence_length": 0},
            "tokenizer": {"output_dir": "test", "vocab_size": -100},
            "model": {"layers": 0, "embedding_size": 64, "hidden_size": 64, "intermediate_hidden_size": 128,
                      "attention_heads": 2, "activation_function": "gelu", "dropout": 1.5, "attention_dropout": 0.1},
            "training": {"output_dir": "test", "learning_rate": -0.001, "adam_beta1": 0.9, "adam_beta2": 0.999,
                         "adam_epsilon": 0.0, "epochs": 0},
            "logging": {"level": "INFO", "dir": "logs"},
            "random_seed": 42}


@pytest.fixture
def temp_workspace(tmp_path):
    "A clean experiment folder with the usual subfolders (data/, models/, logs/, tokenizer/, configs/)."
    ws = tmp_path / "workspace"
    for d in ("data/tokenized", "data/chunked", "models", "logs", "tokenizer", "configs", "corpus"):
        (ws / d).mkdir(parents=True)
    return ws


@pytest.fixture
def temp_config_file(tmp_path, tiny_config):
    "`tiny_config` written as YAML; returns its path as a string."
    path = tmp_path / "test_config.yaml"
    path.write_text(yaml.safe_dump(tiny_config.model_dump(mode="json"), sort_keys=False))
    return str(path)


@pytest.fixture
def tiny_corpus(temp_workspace):
    "The synthetic language in BabyLM layout (corpus/synthetic.train, .dev, .test, minimal_pairs.jsonl)."
    from model_foundry.synthetic import write_corpus
    return write_corpus(temp_workspace / "corpus", n_train=1500, n_dev=50, n_test=200, n_pairs=20, seed=0)


# ---------------------------------------------------------------- data: token-id sequences

@pytest.fixture
def tiny_dataset():
    "100 token-id sequences of 10 to 50 ids in [1, 999]."
    rng = random.Random(42)
    return [[rng.randint(1, 999) for _ in range(rng.randint(10, 50))] for _ in range(100)]


@pytest.fixture
def fixed_length_dataset():
    "50 token-id sequences, all of length 32."
    return [[i % 100 for i in range(32)] for _ in range(50)]


@pytest.fixture
def empty_dataset():
    return []


@pytest.fixture
def single_sequence_dataset():
    return [[1, 2, 3, 4, 5, 6, 7, 8]]


# ---------------------------------------------------------------- model and tokenizer

@pytest.fixture
def tiny_model(tiny_config):
    "A 2-layer, width-64 GPT-2 built from `tiny_config`."
    from model_foundry.model import create_model
    return create_model(tiny_config)


@pytest.fixture
def mock_tokenizer():
    "A whitespace word-level tokenizer with the special ids of Model Foundry's tokenizers (no training needed)."
    class WordTokenizer:
        pad_token, bos_token, eos_token, unk_token = "<pad>", "<s>", "</s>", "<unk>"
        pad_token_id, bos_token_id, eos_token_id, unk_token_id = 0, 1, 2, 3
        def __init__(self): self.vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3}
        def encode(self, text, add_special_tokens=True):
            ids = [self.vocab.setdefault(w, len(self.vocab)) for w in text.split()]
            return [self.bos_token_id, *ids] if add_special_tokens else ids
        def encode_batch(self, lines): return [self.encode(l, add_special_tokens=False) for l in lines]
        def decode(self, ids, skip_special_tokens=False):
            inv = {i: w for w, i in self.vocab.items()}
            return " ".join(inv[int(i)] for i in ids if not (skip_special_tokens and int(i) < 4))
        def __call__(self, text, add_special_tokens=True, return_tensors=None):
            ids = self.encode(text, add_special_tokens)
            if return_tensors == "pt":
                import torch
                ids = torch.tensor([ids])
            return {"input_ids": ids}
        @property
        def vocab_size(self): return len(self.vocab)
        def __len__(self): return len(self.vocab)
        @property
        def word_start_mask(self): return np.arange(len(self.vocab)) >= 3  # every word is one piece; <unk> too
        def save_pretrained(self, path):
            "Write the vocabulary (what a checkpoint carries of a tokenizer)."
            import json
            Path(path).mkdir(parents=True, exist_ok=True)
            (Path(path) / "vocab.json").write_text(json.dumps(self.vocab))
            return (str(Path(path) / "vocab.json"),)
    return WordTokenizer()


# ---------------------------------------------------------------- torch

@pytest.fixture
def device():
    import torch
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@pytest.fixture
def deterministic_seed():
    "Seed Python, NumPy and torch (every device); yields the seed."
    import torch
    random.seed(42); np.random.seed(42); torch.manual_seed(42)
    yield 42


@pytest.fixture
def skip_if_no_cuda():
    import torch
    if not torch.cuda.is_available(): pytest.skip("CUDA not available")


@pytest.fixture(autouse=True)
def cleanup_cuda():
    yield
    import torch
    if torch.cuda.is_available(): torch.cuda.empty_cache()
