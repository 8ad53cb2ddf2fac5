"""Every notebook in nbs/ runs, the way `nbdev-test` runs it: cells flagged with the project's `tst_flags`
(`slow`, `cuda`) are skipped unless named in MODEL_FOUNDRY_TEST_FLAGS (e.g. "slow")."""
import os
from pathlib import Path

import pytest
from fastcore.xtras import working_directory
from nbdev.config import get_config
from nbdev.test import test_nb as run_notebook

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
NOTEBOOKS = sorted(p for p in NBS.rglob("*.ipynb") if not any(part.startswith((".", "_")) for part in p.parts))


@pytest.mark.notebook
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: str(p.relative_to(NBS)))
def test_notebook(nb):
    cfg = get_config(ROOT)
    skip = cfg.tst_flags.split() if isinstance(cfg.tst_flags, str) else list(cfg.tst_flags)
    force = os.environ.get("MODEL_FOUNDRY_TEST_FLAGS", "").split()
    with working_directory(cfg.nbs_path):
        ok, _ = run_notebook(nb, skip_flags=skip, force_flags=force, basepath=ROOT, cell_timeout=600)
    assert ok, f"{nb.relative_to(ROOT)} failed (the cell's error is printed above)"
