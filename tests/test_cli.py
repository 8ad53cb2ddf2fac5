"""The command line: help, and a user's mistake ends with status 2, one line on stderr and nothing written."""
import subprocess, sys
from pathlib import Path

import pytest
import yaml

from conftest import tiny_config_dict

PY = sys.executable
pytestmark = pytest.mark.integration


def files_under(root: Path) -> set:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def run(args, cwd):
    return subprocess.run([PY, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def write_config(ws: Path, mutate) -> Path:
    d = tiny_config_dict(ws)
    mutate(d)
    path = ws / "configs" / "exp.yaml"
    path.write_text(yaml.safe_dump(d, sort_keys=False))
    return path


BAD = {
    "misspelled key": (lambda d: d["training"].update(learnig_rate=1e-3),
                       "unknown key 'training.learnig_rate'; did you mean 'training.learning_rate'?"),
    "wrong type": (lambda d: d["data"].update(batch_size="thirty-two"), "data.batch_size"),
    "impossible model shape": (lambda d: d["model"].update(attention_heads=5),
                               "hidden_size (64) must be divisible by attention_heads (5)"),
    "missing corpus": (lambda d: d["data"].update(source_corpus="/nonexistent/corpus",
                                                  training_corpus="/nonexistent/corpus"), "/nonexistent/corpus"),
}


@pytest.mark.parametrize("entry", [["-m", "model_foundry.trainer"], ["-m", "model_foundry.cli", "train"]],
                         ids=["python -m model_foundry.trainer", "model-foundry train"])
@pytest.mark.parametrize("case", list(BAD))
def test_user_error_exits_2_with_one_line_and_writes_nothing(temp_workspace, tiny_corpus, case, entry):
    mutate, expected = BAD[case]
    cfg = write_config(temp_workspace, mutate)
    before = files_under(temp_workspace)
    r = run([*entry, str(cfg)], cwd=temp_workspace)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert expected in lines[0]
    assert "Traceback" not in r.stderr
    assert files_under(temp_workspace) == before


def test_bad_override_and_missing_config_file(temp_workspace, tiny_corpus):
    cfg = write_config(temp_workspace, lambda d: None)
    r = run(["-m", "model_foundry.trainer", str(cfg), "--set", "training.learning_rate"], cwd=temp_workspace)
    assert r.returncode == 2 and "not of the form section.key=value" in r.stderr
    r = run(["-m", "model_foundry.trainer", str(temp_workspace / "nope.yaml")], cwd=temp_workspace)
    assert r.returncode == 2 and "does not exist" in r.stderr


@pytest.mark.parametrize("sub", ["validate", "schedule", "prepare", "train", "synthetic", "plot"])
def test_help(sub, tmp_path):
    r = run(["-m", "model_foundry.cli", sub, "--help"], cwd=tmp_path)
    assert r.returncode == 0 and "usage: model-foundry " + sub in r.stdout
    if sub not in ("synthetic", "plot"): assert "--set KEY=VALUE" in r.stdout


def test_console_script_is_installed(tmp_path):
    exe = Path(PY).parent / "model-foundry"
    r = subprocess.run([str(exe), "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for sub in ("validate", "schedule", "prepare", "train"): assert sub in r.stdout


def test_validate_and_schedule(temp_workspace, tiny_corpus):
    cfg = write_config(temp_workspace, lambda d: None)
    r = run(["-m", "model_foundry.cli", "validate", str(cfg)], cwd=temp_workspace)
    assert r.returncode == 0 and r.stdout.startswith("ok: tiny"), r.stderr
    r = run(["-m", "model_foundry.cli", "schedule", str(cfg)], cwd=temp_workspace)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1].split() == ["0", "5", "10", "20"]
