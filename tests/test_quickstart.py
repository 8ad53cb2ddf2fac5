"""`make quickstart`'s commands, in a copy of the project: at least 8 checkpoints, loadable models, and minimal-pair
accuracy near chance at checkpoint-0 and clearly above it at the last checkpoint, drawn in minimal_pairs.png."""
import json
import shutil

import pytest
from conftest import ROOT, checkpoints, run_cli


@pytest.mark.e2e
def test_quickstart(tmp_path):
    (tmp_path / "configs").mkdir()
    shutil.copy(ROOT / "configs" / "quickstart.yaml", tmp_path / "configs" / "quickstart.yaml")
    for args in (["synthetic", "data/synthetic"], ["train", "configs/quickstart.yaml"],
                 ["evaluate", "runs/quickstart", "--pairs", "data/synthetic/minimal_pairs.jsonl", "--out", "pairs.jsonl"],
                 ["plot", "runs/quickstart"]):
        r = run_cli(*args, cwd=tmp_path)
        assert r.returncode == 0, r.stderr[-3000:]
    run = tmp_path / "runs" / "quickstart"
    ckpts = checkpoints(run)
    assert len(ckpts) >= 8 and ckpts[0].name == "checkpoint-0"
    assert (run / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert (run / "minimal_pairs.png").read_bytes()[:4] == b"\x89PNG"
    acc = {r["step"]: r["value"] for r in map(json.loads, (tmp_path / "pairs.jsonl").read_text().splitlines())
           if r["metric"] == "minimal_pairs" and r["phenomenon"] == "all"}
    first, last = acc[0], acc[max(acc)]
    assert abs(first - 0.5) < 0.08 and last > 0.75, acc  # 600 pairs: chance is 0.5 ± 0.02 (one sd)
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok, model = AutoTokenizer.from_pretrained(ckpts[-1]), AutoModelForCausalLM.from_pretrained(ckpts[-1])
    out = model.generate(tok("the dogs near the", return_tensors="pt").input_ids, max_new_tokens=6, do_sample=False)
    assert tok.decode(out[0], skip_special_tokens=True).startswith("the dogs near the")
