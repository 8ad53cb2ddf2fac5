"""Study files as a user meets them through `model-foundry study`: a mistake is one line and status 2 with nothing
written; the original Model Foundry's per-experiment configs work as conditions as they are; `study plan` lists the
runs and prepares what they share once; `study run` trains them all, does nothing the second time, and finishes a
study killed midway with the weights an uninterrupted one ends with."""
from pathlib import Path

import pytest
import yaml
from conftest import files_under, run_cli, write_config

pytestmark = pytest.mark.integration


def study_file(ws: Path, **changes) -> Path:
    "A study of the tiny experiment: a baseline and a condition with another learning rate, two seeds."
    d = {"study_name": "tiny-study", "base": "configs/exp.yaml", "baseline": "baseline", "seeds": [0, 1],
         "conditions": {"baseline": {}, "slow": {"set": {"training.learning_rate": 1.0e-4}}}, **changes}
    path = ws / "study.yaml"
    path.write_text(yaml.safe_dump(d, sort_keys=False))
    return path


@pytest.mark.parametrize("changes, says", [
    ({"seed": [0]}, "unknown key 'seed'; did you mean 'seeds'?"),
    ({"conditions": {"baseline": {}, "slow": {"set": {"training.lerning_rate": 1e-4}}}},
     "condition 'slow': unknown key 'training.lerning_rate'; did you mean 'training.learning_rate'?"),
    ({"baseline": "control"}, "baseline 'control' is not a condition; the conditions are baseline, slow"),
    ({"seeds": [0, "1b"]}, "seeds[1]: Input should be a valid integer (got '1b')"),
    ({"seeds": [0, 1.5]}, "seeds[1]: Input should be a valid integer"),
    ({"launch": {"backend": "slurm", "slurm": {"time_minutes": "2h"}}}, "launch.slurm.time_minutes: Input should be a valid integer"),
    ({"launch": {"slurm": {"gpus": 1}}}, "unknown key 'launch.slurm.gpus'; did you mean 'launch.slurm.gpus_per_node'?"),
], ids=["unknown key", "condition sets a key that does not exist", "baseline not a condition", "seed not an integer",
        "seed a fraction", "slurm option of a wrong type", "unknown slurm option"])
def test_a_bad_study_file_is_one_line_and_status_2_and_writes_nothing(temp_workspace, tiny_corpus, changes, says):
    write_config(temp_workspace)
    path = study_file(temp_workspace, **changes)
    before = files_under(temp_workspace)
    r = run_cli("study", "plan", str(path), cwd=temp_workspace)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert says in lines[0], lines[0]
    assert r.stdout == "" and files_under(temp_workspace) == before


def test_the_study_plan_lists_every_run_and_prepares_what_they_share_once(temp_workspace, tiny_corpus):
    write_config(temp_workspace)
    path = study_file(temp_workspace)
    r = run_cli("study", "plan", str(path), cwd=temp_workspace)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("run "))
    rows = [line.split() for line in lines[header + 1:header + 5]]
    assert [row[:3] for row in rows] == [["baseline-seed0", "baseline", "0"], ["baseline-seed1", "baseline", "1"],
                                         ["slow-seed0", "slow", "0"], ["slow-seed1", "slow", "1"]]
    assert len({row[3] for row in rows}) == 1  # one corpus and tokenizer for every run: one preparation
    assert any(line.startswith("1 preparation(s)") for line in lines), r.stdout
    prepared = temp_workspace / "studies" / "tiny-study" / "prepared"
    assert (prepared / rows[0][3] / "tokenizer" / "tokenizer.model").is_file()
    assert not (temp_workspace / "studies" / "tiny-study" / "runs").exists()  # planned, not trained
    before = files_under(prepared)
    again = run_cli("study", "plan", str(path), cwd=temp_workspace)
    assert again.returncode == 0 and again.stdout.splitlines()[-6:] == lines[-6:]
    assert files_under(prepared) == before  # made once: the second plan reuses it


ORIGINAL_BASELINE = """
experiment_name: "exp0_baseline"
data:
  source_corpus: "corpus/"
  batch_size: 4
  max_sequence_length: 32
tokenizer:
  output_dir: "tokenizers/exp0_baseline/"
  vocab_size: 120
model: {layers: 1, embedding_size: 16, hidden_size: 16, intermediate_hidden_size: 32, attention_heads: 2,
        activation_function: "GELU", dropout: 0.1, attention_dropout: 0.1}
training:
  output_dir: "models/exp0_baseline/"
  learning_rate: 0.0001
  warmup_steps: 10
  train_steps: 40
  checkpointing_strategy: "log_steps_first_epoch"
  epochs: 20
logging: {use_wandb: false, wandb_project: "just-drop-the-subject"}
random_seed: 42
"""

ORIGINAL_ABLATION = """
experiment_name: "exp1_remove_expletives"
data:
  source_corpus: "corpus/"
  training_corpus: "data/processed/exp1_remove_expletives/"
  batch_size: 4
  max_sequence_length: 32
dataset_manipulation:
  - type: remove_expletives
    input_path: "corpus/"
    output_path: "data/processed/exp1_remove_expletives/"
    parameters:
      chunk_size: 1000
tokenizer:
  output_dir: "tokenizers/exp1_remove_expletives/"
  vocab_size: 120
model: {layers: 1, embedding_size: 16, hidden_size: 16, intermediate_hidden_size: 32, attention_heads: 2}
training:
  output_dir: "models/exp1_remove_expletives/"
  learning_rate: 0.0001
  train_steps: 40
logging: {use_wandb: false}
random_seed: 42
"""


def test_the_originals_per_experiment_configs_work_as_conditions_as_they_are(tmp_path):
    from model_foundry.study import Study
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "experiment_0_baseline.yaml").write_text(ORIGINAL_BASELINE)
    (tmp_path / "configs" / "experiment_1_remove_expletives.yaml").write_text(ORIGINAL_ABLATION)
    (tmp_path / "study.yaml").write_text(yaml.safe_dump({
        "study_name": "subject-drop", "base": "configs/experiment_0_baseline.yaml", "baseline": "exp0",
        "seeds": [1, 2], "conditions": {"exp0": "configs/experiment_0_baseline.yaml",
                                        "exp1": "configs/experiment_1_remove_expletives.yaml"}}))
    study = Study.load(tmp_path / "study.yaml", base_dir=tmp_path)
    assert [r.name for r in study.runs] == ["exp0-seed1", "exp0-seed2", "exp1-seed1", "exp1-seed2"]
    b1, b2, a1, a2 = study.runs
    assert b1.preparation == b2.preparation  # nothing drawn: the seeds share the tokenizer and the data
    assert a1.preparation == a2.preparation != b1.preparation  # a script is given no seed: one ablated corpus
    step = a2.config.dataset_manipulation[0]
    assert (step.type, step.input_path, step.parameters) == ("remove_expletives", "corpus/", {"chunk_size": 1000})
    assert step.output_path == a2.config.data.training_corpus == \
        f"studies/subject-drop/prepared/{a2.preparation}/corpus/0-exp1_remove_expletives"
    assert (a2.config.experiment_name, a2.config.random_seed) == ("exp1-seed2", 2)
    assert a2.config.training.output_dir == "studies/subject-drop/runs/exp1-seed2"
    assert a2.config.tokenizer.output_dir == f"studies/subject-drop/prepared/{a2.preparation}/tokenizer"
    assert a2.config.training.learning_rate == 1e-4 and a2.config.logging.wandb_project == "just-drop-the-subject"
    assert not (tmp_path / "studies").exists()  # loading a study writes nothing
    (tmp_path / "study.yaml").write_text(yaml.safe_dump({
        "study_name": "subject-drop", "base": "configs/experiment_0_baseline.yaml", "baseline": "exp0", "seeds": [1, 2],
        "conditions": {"exp0": {}, "drawn": {"set": {"dataset_manipulation": [
            {"type": "model_foundry.corpus:randomize_forms", "input_path": "corpus/", "output_path": "data/drawn",
             "parameters": {"forms": [["is", "are"]]}}], "data.training_corpus": "data/drawn"}}}}, sort_keys=False))
    d1, d2 = Study.load(tmp_path / "study.yaml", base_dir=tmp_path).runs[2:]
    assert d1.preparation != d2.preparation  # the step draws with the run's seed: a draw per seed


def _final_weights(ws: Path, study: str) -> dict:
    runs = ws / "studies" / study / "runs"
    return {p.name: (p / "checkpoint-20" / "model.safetensors").read_bytes() for p in sorted(runs.iterdir())}


@pytest.mark.slow  # two studies of four runs, about 90 s on 2 cores: `make test-slow` (nbs/23_launch.ipynb runs one)
def test_a_study_runs_to_the_end_a_second_run_does_nothing_and_a_killed_one_finishes_the_same(temp_workspace,
                                                                                                 tiny_corpus):
    import os
    import signal
    import subprocess
    import sys
    import time
    write_config(temp_workspace)
    path = study_file(temp_workspace, launch={"max_parallel": 2}, evaluate={"pairs": "corpus/minimal_pairs.jsonl"})
    r = run_cli("study", "run", str(path), cwd=temp_workspace)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "4 done (of 4 runs)", r.stdout
    runs = temp_workspace / "studies" / "tiny-study" / "runs"
    before = files_under(runs)
    again = run_cli("study", "run", str(path), cwd=temp_workspace)
    assert again.returncode == 0 and "nothing to do: all 4 runs are done" in again.stdout, again.stdout
    assert files_under(runs) == before  # nothing trained, nothing written
    status = run_cli("study", "status", str(path), cwd=temp_workspace)
    assert [line.split()[:3] for line in status.stdout.splitlines()[1:5]] == [
        [name, "done", "20/20"] for name in ("baseline-seed0", "baseline-seed1", "slow-seed0", "slow-seed1")]

    # the same study in another folder, killed (every process of it, as a closed terminal does) once a run has saved
    # a checkpoint after the first, then run again: every run ends with the weights of the uninterrupted study
    killed = study_file(temp_workspace, output_dir="studies/killed", launch={"max_parallel": 2})
    proc = subprocess.Popen([sys.executable, "-m", "model_foundry.cli", "study", "run", str(killed)], cwd=temp_workspace,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    other = temp_workspace / "studies" / "killed" / "runs"
    deadline = time.time() + 300
    while not list(other.glob("*/checkpoint-5")) and time.time() < deadline and proc.poll() is None: time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    unfinished = [p.name for p in other.iterdir() if not (p / "checkpoint-20").is_dir()] if other.is_dir() else []
    assert unfinished, "the study finished before it could be killed"
    rerun = run_cli("study", "run", str(killed), cwd=temp_workspace)
    assert rerun.returncode == 0 and rerun.stdout.splitlines()[-1] == "4 done (of 4 runs)", rerun.stdout + rerun.stderr
    assert _final_weights(temp_workspace, "killed") == _final_weights(temp_workspace, "tiny-study")

    # then the first study's report, from the same command: figures, tables and report.md in the study folder
    path = study_file(temp_workspace, launch={"max_parallel": 2}, evaluate={"pairs": "corpus/minimal_pairs.jsonl"})
    rep = run_cli("study", "report", str(path), "--resamples", "200", cwd=temp_workspace)
    assert rep.returncode == 0, rep.stdout + rep.stderr
    out = temp_workspace / "studies" / "tiny-study" / "report"
    for name in ("report.md", "rows.csv", "curves.csv", "acquisition.csv", "acquisition_runs.csv", "differences.csv",
                 "minimal_pairs.png", "minimal_pairs-phenomena.png", "loss.png"):
        assert (out / name).is_file(), (name, sorted(p.name for p in out.iterdir()))
    text = (out / "report.md").read_text()
    assert "conditions baseline, slow × seeds 0, 1" in text and "| slow | all |" in text, text
    import csv
    with open(out / "curves.csv") as f: curves = list(csv.DictReader(f))
    at_end = {c["group"]: c for c in curves if (c["metric"], c["part"], c["step"]) == ("minimal_pairs", "all", "20")}
    assert set(at_end) == {"baseline", "slow"} and all(c["seeds"] == "2" for c in at_end.values()), at_end
    # what the figures show: a mean and a band of two seeds per condition, the chance level, the log step axis
    from model_foundry.report import acquisition_tables, evaluate_study, report_figures
    from model_foundry.study import Study
    study = Study.load(path, base_dir=temp_workspace)
    rows = evaluate_study(study, log=lambda _: None, progress=False)  # read from the caches the report filled
    _, groups, _ = acquisition_tables(rows, {"slow": "baseline"}, resamples=50)
    figs = {name: fig for name, _, fig in report_figures(rows, groups)}
    ax = figs["minimal_pairs.png"].axes[0]
    means = [l for l in ax.lines if l.get_gid() == "mean"]
    assert sorted(l.get_label().split(" (")[0] for l in means) == ["baseline", "slow"], [l.get_label() for l in means]
    assert all(list(l.get_xdata()) == [0, 5, 10, 20] for l in means), [list(l.get_xdata()) for l in means]
    assert len([c for c in ax.collections if c.get_gid() == "band"]) == 2
    assert any(l.get_gid() == "chance" for l in ax.lines) and "log10" in ax.get_xlabel(), ax.get_xlabel()
