"""Weights & Biases logging researchers can rely on: an offline run keeps W&B's files inside its run directory, with
every metrics row and the run's provenance; an interrupted run logs to the same W&B run when it continues (also when
killed before its first checkpoint); `WANDB_MODE=disabled` trains without W&B; and an online start that cannot reach
W&B ends with one clear message instead of hanging."""
import json
import shutil
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import checkpoints, tiny_config_dict

from model_foundry.config import ExperimentConfig, FoundryError, config_hash
from model_foundry.model_config import non_embedding_parameters
from model_foundry.trainer import Trainer
from model_foundry.training.checkpointing import read_trainer_state
from model_foundry.training.loop import TrainingLoop
from model_foundry.training.tracking import WANDB_RUN_FILE

pytestmark = pytest.mark.integration


@pytest.fixture
def ws(temp_workspace, tiny_corpus, monkeypatch):
    "A workspace with the synthetic corpus; W&B offline, its home, cache and config in the workspace; WANDB_DIR set."
    home = temp_workspace / "home"
    env = {"WANDB_MODE": "offline", "HOME": home, "WANDB_CACHE_DIR": home / "cache",
           "WANDB_CONFIG_DIR": home / "config", "WANDB_DATA_DIR": home / "data",
           "WANDB_DIR": temp_workspace / "wandb-dir"}  # WANDB_DIR: to be ignored
    for k, v in env.items(): monkeypatch.setenv(k, str(v))
    for k in ("WANDB_API_KEY", "WANDB_BASE_URL", "WANDB_INIT_TIMEOUT", "WANDB_CONSOLE", "WANDB_QUIET", "WANDB_PROJECT",
              "WANDB_RUN_ID", "WANDB_RESUME"):
        monkeypatch.delenv(k, raising=False)
    return temp_workspace


def config(ws: Path, **training) -> dict:
    d = tiny_config_dict(ws, **training)
    d["logging"]["use_wandb"] = True
    return d


def train(ws: Path, **training) -> Path:
    return Trainer(ExperimentConfig(**config(ws, **training)), base_dir=ws, progress=False).train()


def recorded_id(run: Path) -> str:
    "The W&B id the run directory records."
    return json.loads((run / WANDB_RUN_FILE).read_text())["id"]


def checkpoint_id(run: Path):
    "The W&B id in the resume state of the run's last checkpoint."
    return read_trainer_state(checkpoints(run)[-1])["wandb_run_id"]


def starts(run: Path) -> list[Path]:
    "The offline W&B folders of the run, one per start (`offline-run-<time>-<id>[-n]`), oldest first."
    return sorted((run / "wandb").glob("offline-run-*"))


def folder_id(folder: Path) -> str:
    "The W&B id of one start's folder, as W&B names its log there (`run-<id>.wandb`)."
    [log] = folder.glob("run-*.wandb")
    return log.stem[len("run-"):]


def wandb_records(path: Path) -> list:
    "The records of a `.wandb` file: protobuf `Record`s in W&B's LevelDB-style log (32 KiB blocks of chunks)."
    from wandb.proto.wandb_internal_pb2 import Record
    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B log"
    pos, pending, records = 7, b"", []  # after the file header: ":W&B", magic, version
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        if left < 7: pos += left; continue  # a block's tail, too short for a chunk header
        _, n, kind = struct.unpack("<IHB", data[pos:pos + 7])  # crc, length, kind
        if kind == 0: pos += left; continue  # zero padding to the end of the block
        if pos + 7 + n > len(data): break  # still being written
        pending += data[pos + 7:pos + 7 + n]
        pos += 7 + n
        if kind in (1, 4):  # a whole record, or the last chunk of one
            r = Record(); r.ParseFromString(pending); records.append(r)
            pending = b""
    return records


def finished_records(path: Path, wait_s: float = 60) -> list:
    "The records of a finished W&B start; W&B's service may still be writing them for a moment after `finish()`."
    deadline = time.monotonic() + wait_s
    while True:
        records = wandb_records(path)
        if (records and records[-1].WhichOneof("record_type") == "exit") or time.monotonic() > deadline: return records
        time.sleep(0.1)


def logged(folder: Path):
    "What one W&B start logged: its run record, its config as a dict, and its history rows as dicts."
    records = finished_records(next(folder.glob("*.wandb")))
    assert records[-1].WhichOneof("record_type") == "exit", f"{folder}: the W&B log never ended"
    run = next(r.run for r in records if r.WhichOneof("record_type") == "run")
    cfg = {u.key: json.loads(u.value_json) for u in run.config.update}
    rows = [{i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.history.item}
            for r in records if r.WhichOneof("record_type") == "history"]
    return run, cfg, rows


def metrics(run: Path) -> list[dict]: return [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]


def test_an_offline_run_logs_its_metrics_and_provenance_inside_the_run_directory(ws):
    git = ["git", "-C", str(ws), "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run(git + ["init", "-q"], check=True)  # the experiment in a repository: its commit is recorded
    subprocess.run(git + ["commit", "-q", "--allow-empty", "-m", "experiment"], check=True)
    cfg = ExperimentConfig(**config(ws))
    run = Trainer(cfg, base_dir=ws, progress=False).train()
    [start] = starts(run)
    assert json.loads((run / WANDB_RUN_FILE).read_text()) == {"id": folder_id(start), "project": "tiny"}
    assert checkpoint_id(run) == folder_id(start)
    wb, logged_config, rows = logged(start)
    assert (wb.run_id, wb.project, wb.display_name) == (folder_id(start), "tiny", "tiny")  # project: experiment name
    assert list(wb.tags) == ["gpt2"]  # the architecture, to group a project's runs by
    assert logged_config["non_embedding_parameters"] == non_embedding_parameters(cfg.model) > 0
    meta = json.loads((run / "checkpoint-20" / "metadata.json").read_text())
    assert logged_config["config_hash"] == config_hash(cfg) == meta["config_hash"]
    assert logged_config["data_fingerprint"] == meta["data_fingerprint"]
    assert logged_config["tokenizer_fingerprint"] == meta["tokenizer_fingerprint"]
    assert len(meta["git_commit_hash"]) == 40 and logged_config["git_commit"] == meta["git_commit_hash"]
    assert {k: logged_config[k] for k in ("experiment_name", "training", "model")} == \
           {k: v for k, v in cfg.model_dump(mode="json").items() if k in ("experiment_name", "training", "model")}
    # every metrics row, every value, at its step: as train/<key>, held-out measures as eval/<name> (eval_<name>)
    field = lambda k: k[len("train/"):] if k.startswith("train/") else "eval_" + k[len("eval/"):]
    rows_by_step = [({field(k): v for k, v in r.items() if k.startswith(("train/", "eval/"))}, r["_step"]) for r in rows]
    assert rows_by_step == [(m, m["step"]) for m in metrics(run)]
    assert any(k.startswith("eval/loss") for r in rows for k in r)  # the workspace's corpus has a test split
    assert not (ws / "wandb-dir").exists() and not (ws / "wandb").exists()  # WANDB_DIR, the base directory: untouched


def test_a_chosen_project_is_used(ws):
    d = config(ws)
    d["logging"]["wandb_project"] = "ablations"
    run = Trainer(ExperimentConfig(**d), base_dir=ws, progress=False).train()
    wb, _, _ = logged(starts(run)[0])
    assert (wb.project, wb.display_name) == ("ablations", "tiny")


def test_an_interrupted_run_continues_its_wandb_run(ws):
    run = train(ws)
    first = recorded_id(run)
    shutil.rmtree(run / "checkpoint-20")  # as if killed after checkpoint-10
    train(ws)
    assert [folder_id(p) for p in starts(run)] == [first, first]
    assert recorded_id(run) == checkpoint_id(run) == first
    _, _, rows = logged(starts(run)[1])
    assert [r["_step"] for r in rows] == [m["step"] for m in metrics(run) if m["step"] > 10]


def test_a_run_killed_before_its_first_checkpoint_keeps_its_wandb_run(ws, monkeypatch):
    class Killed(Exception): pass
    def killed(self): raise Killed()
    with monkeypatch.context() as m:
        m.setattr(TrainingLoop, "run", killed)  # W&B has started; the loop (and its first checkpoint) has not
        with pytest.raises(Killed): train(ws)
    run = ws / "run"
    assert not list(run.glob("checkpoint-*"))
    first = recorded_id(run)
    train(ws)
    assert [folder_id(p) for p in starts(run)] == [first, first]
    assert checkpoint_id(run) == recorded_id(run) == first


def test_a_run_continued_from_another_runs_checkpoint_gets_its_own_wandb_run(ws):
    first = train(ws)
    second = train(ws, output_dir=str(ws / "continued"), resume_from_checkpoint=str(first / "checkpoint-10"))
    assert recorded_id(second) != recorded_id(first)
    assert [folder_id(p) for p in starts(second)] == [recorded_id(second)] == [checkpoint_id(second)]


def test_wandb_disabled_trains_and_writes_no_wandb_files(ws, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    run = train(ws)
    assert (run / "checkpoint-20").is_dir() and [m["step"] for m in metrics(run)][-1] == 20
    assert not (run / "wandb").exists() and not (run / WANDB_RUN_FILE).exists()
    assert checkpoint_id(run) is None
    assert not (ws / "wandb-dir").exists() and not (ws / "wandb").exists()


@pytest.mark.timeout(300)
def test_an_online_start_that_cannot_reach_wandb_ends_with_one_clear_message(ws, monkeypatch):
    import wandb
    server = socket.create_server(("127.0.0.1", 0))  # accepts connections and never answers: a network that hangs
    held = []
    def hold():
        while True:
            try: held.append(server.accept())
            except OSError: return
    threading.Thread(target=hold, daemon=True).start()
    for k, v in {"WANDB_MODE": "online", "WANDB_API_KEY": "0" * 40, "WANDB_INIT_TIMEOUT": "3",
                 "WANDB_BASE_URL": f"http://127.0.0.1:{server.getsockname()[1]}"}.items():
        monkeypatch.setenv(k, v)
    wandb.teardown()  # a new W&B session reads these settings, as a new process would
    try:
        with pytest.raises(FoundryError) as e: train(ws)
    finally:
        wandb.teardown()
        server.close()
        for conn, _ in held: conn.close()
    message = str(e.value)
    assert message.startswith("Weights & Biases could not start") and "WANDB_MODE=offline" in message
    assert "\n" not in message  # one line on the command line
    assert not (ws / "run").exists()  # a failed start leaves nothing behind
