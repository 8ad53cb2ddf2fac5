"""The figures of a run agree with each other: one log10(step + 1) axis with checkpoint 0 on it, accuracy on 0 to 1,
titles in words, weight change that says what it is, acquisition only where a curve rises, and minimal pairs of
unequal token counts reported."""
import json

import numpy as np
import pytest
from conftest import run_cli, run_trainer, tiny_config_dict, write_config

pytestmark = pytest.mark.integration


@pytest.fixture
def evaluated(temp_workspace, tiny_corpus):
    "A trained tiny run, evaluated on minimal pairs (two of them of unequal token counts), held-out text and weights."
    cfg = write_config(temp_workspace, tiny_config_dict(temp_workspace))
    assert run_trainer(cfg, cwd=temp_workspace).returncode == 0
    pairs = temp_workspace / "pairs.jsonl"
    items = [{"good": "the dogs run .", "bad": "dogs the run .", "phenomenon": "order"},  # the same words
             {"good": "the dog runs .", "bad": "dog the runs .", "phenomenon": "order"},
             {"good": "the dogs run .", "bad": "the dogs run run .", "phenomenon": "repeat"},  # one word more
             {"good": "the cat sleeps .", "bad": "the cat sleeps sleeps .", "phenomenon": "repeat"}]
    pairs.write_text("".join(json.dumps(p) + "\n" for p in items))
    r = run_cli("evaluate", "run", "--pairs", str(pairs), "--text", str(tiny_corpus["test"]), "--weights",
                cwd=temp_workspace)
    assert r.returncode == 0, r.stderr
    return temp_workspace, r


def test_evaluate_warns_of_pairs_of_unequal_token_counts(evaluated):
    ws, r = evaluated
    assert "run: 2 of 4 minimal pairs (50.0%) have sentences of different token counts" in r.stderr, r.stderr
    assert "favours the shorter one" in r.stderr


def test_figures_share_the_axis_and_say_what_they_show(evaluated):
    from model_foundry.evaluation import cached_results, load_runs
    from model_foundry.plots import plot_loss, plot_metric, plot_phenomena
    ws, _ = evaluated
    assert run_cli("plot", "run", cwd=ws).returncode == 0
    loss = plot_loss(ws / "run").axes[0]
    assert loss.get_xscale() == "function" and "log10(step + 1)" in loss.get_xlabel(), loss.get_xlabel()
    held = [line for line in loss.lines if line.get_label() == "held-out loss"][0]
    assert held.get_xdata()[0] == 0  # checkpoint 0, the initial model, on the axis
    rows = cached_results(load_runs([ws / "run"]))
    for metric in sorted({r["metric"] for r in rows}):
        sel = [r for r in rows if r["metric"] == metric]
        ax = plot_metric(sel, metric).axes[0]
        assert ax.get_xscale() == "function", metric
        assert "_" not in ax.get_title() and "_" not in ax.get_ylabel(), (metric, ax.get_title())
        if metric == "minimal_pairs": assert ax.get_ylim() == (0, 1)
        if metric == "weight_change": assert "not per step" in ax.get_ylabel()
        if metric == "weight_change_per_step": assert "per step" in ax.get_ylabel()
    mp = [r for r in rows if r["metric"] == "minimal_pairs"]
    assert plot_phenomena(mp).axes[0].get_ylim() == (0, 1)
    legend = plot_metric(mp, "minimal_pairs").axes[0].get_legend()
    assert "2 of 4 pairs (50%) differ in token count" in legend.get_title().get_text()


def test_no_acquisition_for_a_curve_that_starts_above_chance_and_falls():
    from model_foundry.plots import acquisition_point, plot_metric
    steps = [0, 1, 2, 4, 8, 16, 32]
    falling = [0.8, 0.76, 0.72, 0.68, 0.64, 0.62, 0.6]
    assert acquisition_point(steps, falling, chance=0.5) is None
    rows = [dict(run="r", run_dir="runs/r", group="r", seed=0, step=s, tokens_seen=s, words_seen=s,
                 metric="minimal_pairs", phenomenon="all", value=v, chance=0.5) for s, v in zip(steps, falling)]
    ax = plot_metric(rows, "minimal_pairs", acquisition=True).axes[0]
    assert not [a for a in ax.get_children() if getattr(a, "get_gid", lambda: None)() == "acquisition"]
    assert any("not acquired" in t.get_text() for t in ax.get_legend().get_texts())
    rising = [0.5, 0.5, 0.52, 0.6, 0.8, 0.9, 0.9]
    assert acquisition_point(steps, rising, chance=0.5) == 8
    assert np.isclose(acquisition_point(steps, rising, chance=0.5, threshold=0.85), 16)
