"""The command line: help, and a user's mistake ends with status 2, one line on stderr and nothing written."""
import subprocess
from pathlib import Path

import pytest
from conftest import PY, files_under, run_cli, run_python, run_trainer, tiny_config_dict, write_config

pytestmark = pytest.mark.integration


def mutated_config(ws: Path, mutate) -> Path:
    "The tiny experiment's config, changed by `mutate`."
    d = tiny_config_dict(ws)
    mutate(d)
    return write_config(ws, d)


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
    cfg = mutated_config(temp_workspace, mutate)
    before = files_under(temp_workspace)
    r = run_python(*entry, str(cfg), cwd=temp_workspace)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert expected in lines[0]
    assert "Traceback" not in r.stderr
    assert files_under(temp_workspace) == before


def test_bad_override_and_missing_config_file(temp_workspace, tiny_corpus):
    cfg = mutated_config(temp_workspace, lambda d: None)
    r = run_python("-m", "model_foundry.trainer", cfg, "--set", "training.learning_rate", cwd=temp_workspace)
    assert r.returncode == 2 and "not of the form section.key=value" in r.stderr
    r = run_trainer(temp_workspace / "nope.yaml", cwd=temp_workspace)
    assert r.returncode == 2 and "does not exist" in r.stderr


@pytest.mark.parametrize("sub", ["validate", "schedule", "prepare", "train", "synthetic", "evaluate", "plot"])
def test_help(sub, tmp_path):
    r = run_cli(sub, "--help", cwd=tmp_path)
    assert r.returncode == 0 and "usage: model-foundry " + sub in r.stdout
    if sub not in ("synthetic", "evaluate", "plot"): assert "--set KEY=VALUE" in r.stdout


def test_synthetic_help_says_what_each_option_is(tmp_path):
    r = run_cli("synthetic", "--help", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for option, file in [("--train", "synthetic.train"), ("--dev", "synthetic.dev"), ("--test", "synthetic.test"),
                         ("--pairs", "minimal_pairs.jsonl")]:
        help_of = " ".join(r.stdout.split(f"\n  {option} N", 1)[1].split("\n  --", 1)[0].split())
        assert file in help_of, (option, help_of)


def test_console_script_is_installed(tmp_path):
    exe = Path(PY).parent / "model-foundry"
    r = subprocess.run([str(exe), "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for sub in ("validate", "schedule", "prepare", "train"): assert sub in r.stdout


def test_validate_and_schedule(temp_workspace, tiny_corpus):
    cfg = mutated_config(temp_workspace, lambda d: None)
    r = run_cli("validate", str(cfg), cwd=temp_workspace)
    assert r.returncode == 0 and r.stdout.startswith("ok: tiny"), r.stderr
    r = run_cli("schedule", str(cfg), cwd=temp_workspace)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("preparing the data"), r.stdout  # it says so before it prepares
    assert r.stdout.splitlines()[2].split() == ["0", "5", "10", "20"]


def test_evaluate_every_checkpoint_then_from_the_cache(temp_workspace, tiny_corpus):
    "model-foundry evaluate: a summary, the table in CSV and JSONL, and a second call that reads the cache."
    import csv
    import json
    cfg = mutated_config(temp_workspace, lambda d: None)
    assert run_trainer(cfg, cwd=temp_workspace).returncode == 0
    pairs, text = tiny_corpus["pairs"], tiny_corpus["test"]
    stimuli = temp_workspace / "stimuli.jsonl"
    stimuli.write_text(json.dumps({"text": "the dogs near the house run.", "roi": "run"}) + "\n")
    args = ["-m", "model_foundry.cli", "evaluate", "run", "--pairs", str(pairs), "--stimuli", str(stimuli),
            "--text", str(text), "--weights"]
    r = run_python(*args, "--out", "results.csv", cwd=temp_workspace)
    assert r.returncode == 0, r.stderr
    assert "run  minimal_pairs phenomenon=all: " in r.stdout and "at step 0 -> " in r.stdout and "at step 20" in r.stdout
    assert "computed, 0 read from the cache" in r.stderr
    table = list(csv.DictReader(open(temp_workspace / "results.csv")))
    assert {row["step"] for row in table} == {"0", "5", "10", "20"}
    assert {row["metric"] for row in table} == {"minimal_pairs", "minimal_pair_item", "surprisal", "loss", "ppl",
                                                "weight_norm", "weight_change", "weight_change_per_step"}
    items = [row for row in table if row["metric"] == "minimal_pair_item" and row["step"] == "20"]
    assert len(items) == 20 and {"item", "phenomenon", "good_logprob", "bad_logprob", "correct"} <= set(items[0])
    r = run_python(*args, "--out", "results.jsonl", cwd=temp_workspace)
    assert r.returncode == 0 and " 0 result(s) computed, 16 read from the cache" in r.stderr, r.stderr
    again = [json.loads(l) for l in (temp_workspace / "results.jsonl").read_text().splitlines()]
    assert [str(x["value"]) for x in again] == [row["value"] for row in table]
    r = run_cli("plot", "run", "--out", "figures", cwd=temp_workspace)
    assert r.returncode == 0, r.stderr
    drawn = sorted(p.name for p in (temp_workspace / "figures").iterdir())
    assert drawn == sorted(["run-loss.png", "held_out_loss.png", "ppl.png", "minimal_pairs.png", "surprisal.png",
                            "weight_norm.png", "weight_change.png", "weight_change_per_step.png",
                            "minimal_pairs-phenomena.png"]), drawn
    assert all((temp_workspace / "figures" / n).read_bytes()[:4] == b"\x89PNG" for n in drawn)
    r = run_cli("plot", "run", cwd=temp_workspace)  # into the run folder: one file a figure
    written = r.stdout.split()
    assert r.returncode == 0 and len(written) == len(set(written)) == 9, r.stdout
    assert str(Path("run") / "loss.png") in written and str(Path("run") / "held_out_loss.png") in written
