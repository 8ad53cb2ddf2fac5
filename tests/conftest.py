"""Shared fixtures and markers for the integration and end-to-end tests.

Notebook tests live in the notebooks themselves (tests/test_notebooks.py runs them); what is here serves tests
that cross modules: whole runs, the command line, resuming after a kill.
"""
import os, random, shutil, sys
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    import torch
    run_slow = config.getoption("--runslow") or "slow" in os.environ.get("MODEL_FOUNDRY_TEST_FLAGS", "").split()
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow (make test-all)")
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "slow" in item.keywords and not run_slow: item.add_marker(skip_slow)
        if "gpu" in item.keywords and not torch.cuda.is_available(): item.add_marker(skip_gpu)


# ---------------------------------------------------------------- configuration

def tiny_config_dict(root: Path, **training) -> dict:
    "A minimal valid config (2 layers, width 64) whose paths live under `root`."
    return {
        "experiment_name": "tiny",
        "random_seed": 0,
        "data": {"source_corpus": str(root / "corpus"), "training_corpus": str(root / "corpus"),
                 "batch_size": 4, "max_sequence_length": 32},
        "tokenizer": {"output_dir": str(root / "tokenizer"), "vocab_size": 120},
        "model": {"layers": 2, "embedding_size": 64, "hidden_size": 64, "intermediate_hidden_size": 128,
                  "attention_heads": 4, "activation_function": "gelu_new", "dropout": 0.0,
                  "attention_dropout": 0.0},
        "training": {"output_dir": str(root / "run"), "learning_rate": 3e-3, "epochs": 1, "train_steps": 20,
                     "warmup_steps": 2, "checkpoint_schedule": [0, 5, 10, 20], **training},
        "logging": {"use_wandb": False},
    }


@pytest.fixture
def temp_workspace(tmp_path):
    "A clean experiment folder: corpus/, tokenizer/ and run/ live under it."
    for d in ("corpus", "configs"): (tmp_path / d).mkdir()
    return tmp_path


@pytest.fixture
def tiny_corpus(temp_workspace):
    "The synthetic language in BabyLM layout (corpus/synthetic.train, .dev, .test, minimal_pairs.jsonl)."
    from model_foundry.synthetic import write_corpus
    return write_corpus(temp_workspace / "corpus", n_train=1500, n_dev=50, n_test=200, n_pairs=20, seed=0)


@pytest.fixture
def tiny_config(temp_workspace):
    "A minimal valid `ExperimentConfig` for fast tests (paths under `temp_workspace`)."
    from model_foundry.config import ExperimentConfig
    return ExperimentConfig(**tiny_config_dict(temp_workspace))


@pytest.fixture
def invalid_config_data(temp_workspace):
    "A config dict with a bad value (negative learning rate)."
    d = tiny_config_dict(temp_workspace)
    d["training"]["learning_rate"] = -1.0
    return d


@pytest.fixture
def temp_config_file(temp_workspace):
    "The tiny config written as YAML to configs/tiny.yaml."
    path = temp_workspace / "configs" / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config_dict(temp_workspace), sort_keys=False))
    return path


# ---------------------------------------------------------------- data

@pytest.fixture
def tiny_dataset():
    "100 token sequences of varied length (ids in [4, 100))."
    rng = np.random.default_rng(0)
    return [rng.integers(4, 100, size=int(n)).tolist() for n in rng.integers(5, 60, size=100)]


@pytest.fixture
def fixed_length_dataset():
    "50 token sequences, all of length 32."
    rng = np.random.default_rng(1)
    return [rng.integers(4, 100, size=32).tolist() for _ in range(50)]


@pytest.fixture
def empty_dataset():
    return []


@pytest.fixture
def single_sequence_dataset():
    return [list(range(4, 36))]


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
        pad_token_id, bos_token_id, eos_token_id, unk_token_id = 0, 1, 2, 3
        def __init__(self): self.vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3}
        def encode(self, text, add_special_tokens=False):
            return [self.vocab.setdefault(w, len(self.vocab)) for w in text.split()]
        def encode_batch(self, lines): return [self.encode(l) for l in lines]
        def decode(self, ids, skip_special_tokens=False):
            inv = {i: w for w, i in self.vocab.items()}
            return " ".join(inv[i] for i in ids if not (skip_special_tokens and i < 4))
        @property
        def vocab_size(self): return len(self.vocab)
        def __len__(self): return len(self.vocab)
    return WordTokenizer()


# ---------------------------------------------------------------- torch

@pytest.fixture
def device():
    import torch
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@pytest.fixture
def deterministic_seed():
    "Seed Python, NumPy and torch; returns the seed."
    import torch
    random.seed(1234); np.random.seed(1234); torch.manual_seed(1234)
    return 1234


@pytest.fixture
def cleanup_cuda():
    yield
    import torch
    if torch.cuda.is_available(): torch.cuda.empty_cache()
