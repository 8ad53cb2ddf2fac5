"""What `validate` and `schedule` tell a user before a run: the checks that need no training, what they leave out,
what `schedule` prepares, and a disk estimate that counts everything a checkpoint holds."""
import re
from pathlib import Path

import pytest
from conftest import files_under, run_cli, run_trainer, tiny_config_dict, write_config

pytestmark = pytest.mark.integration


def config(ws: Path, **sections) -> Path:
    "The tiny experiment's config, each section updated by `sections` ({section: {key: value}})."
    d = tiny_config_dict(ws)
    for name, values in sections.items(): d[name].update(values)
    return write_config(ws, d)


def one_error(r) -> str:
    "The one line a user's mistake prints (status 2, nothing else on stderr)."
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


@pytest.mark.parametrize("sections, says", [
    ({"tokenizer": {"vocab_size": 16000}}, "tokenizer.vocab_size (16000) is larger than this corpus supports"),
    ({"tokenizer": {"vocab_size": 10}}, "tokenizer.vocab_size (10) is too small"),
    ({"data": {"batch_size": 5000}}, "fewer than one optimizer step needs"),
    ({"training": {"train_steps": None, "epochs": 1, "checkpoint_schedule": [0, 100000]}},
     "asks for step 100000, after the last"),
], ids=["vocabulary too large", "vocabulary too small", "corpus too small for a step", "schedule past the end"])
def test_validate_fails_what_training_would_fail(temp_workspace, tiny_corpus, sections, says):
    cfg = config(temp_workspace, **sections)
    before = files_under(temp_workspace)
    line = one_error(run_cli("validate", str(cfg), cwd=temp_workspace))
    assert says in line, line
    assert files_under(temp_workspace) == before  # nothing trained, nothing written
    if "vocabulary" in says or "vocab_size" in says:  # the error training meets, word for word
        assert line == one_error(run_cli("prepare", str(cfg), cwd=temp_workspace))


def test_validate_says_what_it_checked_and_what_it_left_out(temp_workspace, tiny_corpus):
    cfg = config(temp_workspace)
    before = files_under(temp_workspace)
    r = run_cli("validate", str(cfg), cwd=temp_workspace)
    assert r.returncode == 0 and r.stdout.startswith("ok: tiny"), r.stderr
    checked = [line for line in r.stdout.splitlines() if line.startswith("checked: ")]
    assert [c.split()[1] for c in checked] == ["tokenizer.vocab_size", "the", "the", "the"], r.stdout
    assert "checked: the disk: " in r.stdout and "not checked: the exact number of sequences" in r.stdout, r.stdout
    assert files_under(temp_workspace) == before
    lo, hi = map(lambda s: int(s.replace(",", "")), re.search(r"([\d,]+) to ([\d,]+) sequences", r.stdout).groups())
    assert run_cli("prepare", str(cfg), cwd=temp_workspace).returncode == 0
    made = int(re.search(r"prepared: ([\d,]+) training sequences",
                         run_cli("prepare", str(cfg), cwd=temp_workspace).stdout)[1].replace(",", ""))
    assert lo <= made <= hi, (lo, made, hi)


def test_validate_offers_no_allow_config_change(temp_workspace, tiny_corpus):
    cfg = config(temp_workspace)
    assert "--allow-config-change" not in run_cli("validate", "--help", cwd=temp_workspace).stdout
    assert "--allow-config-change" in run_cli("train", "--help", cwd=temp_workspace).stdout
    r = run_cli("validate", str(cfg), "--allow-config-change", cwd=temp_workspace)
    assert r.returncode == 2 and "unrecognized arguments: --allow-config-change" in r.stderr, r.stderr


def test_schedule_says_that_it_prepares_the_data(temp_workspace, tiny_corpus):
    cfg = config(temp_workspace)
    before = files_under(temp_workspace)
    r = run_cli("schedule", str(cfg), "--sequences", "500", cwd=temp_workspace)
    assert r.returncode == 0 and "preparing" not in r.stdout + r.stderr, r.stdout + r.stderr
    assert files_under(temp_workspace) == before  # planned without the corpus
    r = run_cli("schedule", str(cfg), cwd=temp_workspace)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("preparing the data to count its sequences: the tokenizer is trained"), r.stdout
    assert "tokenizer trained" in r.stderr and "tokenized 2 file(s)" in r.stderr, r.stderr


def megabytes(text: str) -> float:
    "The figure of `disk: about N MB` in `text`, in bytes."
    n, unit = re.search(r"disk: about ([\d.]+) (kB|MB|GB)", text).groups()
    return float(n) * {"kB": 1e3, "MB": 1e6, "GB": 1e9}[unit]


def test_schedule_disk_estimate_is_what_the_run_writes(temp_workspace, tiny_corpus):
    "The estimate counts the tokenizer each checkpoint holds: within 5% of the checkpoints a run leaves."
    from model_foundry.training.checkpointing import checkpoint_size
    cfg = config(temp_workspace, training={"keep_resume_states": 1})
    planned = run_cli("schedule", str(cfg), "--sequences", "2000", cwd=temp_workspace)  # before the tokenizer exists
    assert planned.returncode == 0, planned.stderr
    measured = run_cli("schedule", str(cfg), cwd=temp_workspace)
    assert measured.returncode == 0, measured.stderr
    assert run_trainer(cfg, cwd=temp_workspace).returncode == 0
    written = sum(sum(checkpoint_size(p).values()) for p in (temp_workspace / "run").glob("checkpoint-*"))
    assert abs(megabytes(measured.stdout) / written - 1) < 0.05, (measured.stdout, written)
    assert abs(megabytes(planned.stdout) / written - 1) < 0.25, (planned.stdout, written)
