"""Every notebook in nbs/ runs, the way `nbdev-test` runs it: cells flagged with the project's `tst_flags` (`slow`,
`cuda`) are skipped. A notebook with `slow` cells is run a second time with them (a test marked `slow`: `make
test-slow`, which CI runs after the main suite), so that its saved outputs stay what the code produces."""
import os
from pathlib import Path

import pytest
from fastcore.nbio import read_nb
from fastcore.xtras import working_directory
from nbdev.config import get_config
from nbdev.test import test_nb as run_notebook

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
NOTEBOOKS = sorted(p for p in NBS.rglob("*.ipynb") if not any(part.startswith((".", "_")) for part in p.relative_to(NBS).parts))


def has_flag(nb: Path, flag: str) -> bool:
    "Whether a code cell of the notebook carries `#| <flag>`."
    return any(flag in c.directives for c in read_nb(nb).cells if c.cell_type == "code")


def run(nb: Path, force: list[str]):
    cfg = get_config(ROOT)
    skip = cfg.tst_flags.split() if isinstance(cfg.tst_flags, str) else list(cfg.tst_flags)
    force = force + os.environ.get("MODEL_FOUNDRY_TEST_FLAGS", "").split()
    with working_directory(cfg.nbs_path):
        ok, _ = run_notebook(nb, skip_flags=skip, force_flags=force, basepath=ROOT, cell_timeout=900)
    assert ok, f"{nb.relative_to(ROOT)} failed (the cell's error is printed above)"


@pytest.mark.notebook
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: str(p.relative_to(NBS)))
def test_notebook(nb):
    run(nb, [])


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.timeout(1800)  # a tutorial's training: longer than the 600 s every other test gets
@pytest.mark.parametrize("nb", [p for p in NOTEBOOKS if has_flag(p, "slow")], ids=lambda p: str(p.relative_to(NBS)))
def test_notebook_with_slow_cells(nb):
    run(nb, ["slow"])
