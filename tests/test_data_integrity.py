"""Prepared data is checked against the hashes recorded when it was written, as a user meets it on the command line:
a damaged token file or shard is said in one line and prepared again, and a run continues only on the tokens its
checkpoints record."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import checkpoints, run_cli, run_trainer, write_config

pytestmark = pytest.mark.integration


def prepared(ws: Path) -> Path:
    "The one prepared folder of the workspace's experiment."
    (folder,) = [p for p in (ws / "data" / "tokenized").iterdir() if p.is_dir() and p.name != "shards"]
    return folder


def damage(path: Path):
    "Change the token ids inside a token file, keeping its size (what a bad disk or a stray write does)."
    tokens = np.memmap(path, dtype=np.uint16, mode="r+")
    tokens[:] = (tokens + 1) % 100
    tokens.flush()
    del tokens


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "WARNING" in line]


def test_a_damaged_token_file_is_said_and_prepared_again(temp_workspace, tiny_corpus):
    cfg = write_config(temp_workspace)
    assert run_cli("prepare", cfg, cwd=temp_workspace).returncode == 0
    train_bin = prepared(temp_workspace) / "train.bin"
    good = train_bin.read_bytes()
    damage(train_bin)
    r = run_cli("prepare", cfg, cwd=temp_workspace)
    assert r.returncode == 0, r.stderr
    said = warnings(r.stderr)
    assert len(said) == 1 and "train.bin changed since it was written" in said[0], r.stderr
    assert "nothing to do" not in r.stderr
    assert train_bin.read_bytes() == good
    r = run_cli("prepare", cfg, cwd=temp_workspace)  # intact now: reused, and nothing said
    assert r.returncode == 0 and "nothing to do" in r.stderr and not warnings(r.stderr), r.stderr


def test_a_damaged_shard_is_tokenized_again(temp_workspace, tiny_corpus, tmp_path):
    cfg = write_config(temp_workspace)
    assert run_cli("prepare", cfg, cwd=temp_workspace).returncode == 0
    (shard,) = [p for p in (temp_workspace / "data" / "tokenized" / "shards").iterdir()
                if json.loads((p / "shard.json").read_text())["source"].endswith("synthetic.train")]
    damage(shard / "main.bin")
    # another sequence length assembles a new folder from the shards: the damaged one is not used
    r = run_cli("prepare", cfg, "--set", "data.max_sequence_length=16", cwd=temp_workspace)
    assert r.returncode == 0, r.stderr
    said = warnings(r.stderr)
    assert len(said) == 1 and "main.bin changed since it was written" in said[0], r.stderr
    clean = tmp_path / "clean"  # the same corpus prepared from scratch
    shutil.copytree(temp_workspace / "corpus", clean / "corpus")
    assert run_cli("prepare", write_config(clean), "--set", "data.max_sequence_length=16", cwd=clean).returncode == 0
    (ours,) = [p for p in (temp_workspace / "data" / "tokenized").iterdir() if p.name != "shards"
               and json.loads((p / "meta.json").read_text())["max_sequence_length"] == 16]
    assert (ours / "train.bin").read_bytes() == (prepared(clean) / "train.bin").read_bytes()


def interrupted_at_10(ws: Path) -> dict:
    "Train the tiny run (checkpoints 0, 5, 10, 20), then make it a run cut short after step 10; its last weights."
    from safetensors.torch import load_file
    assert run_trainer(write_config(ws), cwd=ws).returncode == 0
    run = ws / "run"
    final = load_file(run / "checkpoint-20" / "model.safetensors")
    shutil.rmtree(run / "checkpoint-20")
    assert [c.name for c in checkpoints(run)][-1] == "checkpoint-10"
    return final


def test_a_run_resumed_on_damaged_data_trains_on_the_data_it_started_with(temp_workspace, tiny_corpus):
    from safetensors.torch import load_file
    final = interrupted_at_10(temp_workspace)
    damage(prepared(temp_workspace) / "train.bin")
    r = run_trainer(write_config(temp_workspace), cwd=temp_workspace)
    assert r.returncode == 0, r.stderr
    assert any("train.bin changed since it was written" in line for line in warnings(r.stderr)), r.stderr
    again = load_file(temp_workspace / "run" / "checkpoint-20" / "model.safetensors")
    assert all(torch.equal(final[k], again[k]) for k in final)


def test_a_run_refuses_to_resume_on_tokens_its_checkpoints_do_not_record(temp_workspace, tiny_corpus):
    interrupted_at_10(temp_workspace)
    folder = prepared(temp_workspace)
    damage(folder / "train.bin")  # and the record made to agree: the hashes of the folder pass
    from model_foundry.helpers import sha256_file
    meta = json.loads((folder / "meta.json").read_text())
    meta["file_hashes"]["train.bin"] = sha256_file(folder / "train.bin")
    (folder / "meta.json").write_text(json.dumps(meta))
    run_before = sorted(p.name for p in (temp_workspace / "run").iterdir())
    r = run_trainer(write_config(temp_workspace), cwd=temp_workspace)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines[-1].startswith("error: the prepared data (train.bin) is not what") and "checkpoint-10" in lines[-1]
    assert "Traceback" not in r.stderr
    assert sorted(p.name for p in (temp_workspace / "run").iterdir()) == run_before
