"""The notebooks are the source: exporting them must reproduce the package exactly, and they must be clean."""
import shutil, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def snapshot(root: Path) -> dict:
    files = [*root.glob("nbs/**/*.ipynb"), *root.glob("model_foundry/**/*.py"), *root.glob("nbs/llms.txt")]
    return {str(p.relative_to(root)): p.read_bytes() for p in files
            if "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts}


@pytest.mark.integration
def test_export_and_clean_change_nothing(tmp_path):
    for name in ("nbs", "model_foundry"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    before = snapshot(tmp_path)
    for cmd in ("nbdev-export", "nbdev-clean"):
        r = subprocess.run([str(BIN / cmd)], cwd=tmp_path, capture_output=True, text=True)
        assert r.returncode == 0, f"{cmd} failed:\n{r.stdout}\n{r.stderr}"
    after = snapshot(tmp_path)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, ("nbdev-export/nbdev-clean would change these files; run `make export` and commit the "
                         f"notebooks and modules together: {changed}")
