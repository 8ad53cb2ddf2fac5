"""The notebooks are the source: exporting them must reproduce the package exactly, and they must be clean."""
import shutil
import subprocess
import sys
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


@pytest.mark.integration
def test_readme_is_generated_from_the_index_notebook():
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "readme.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    first = (ROOT / "README.md").read_text().split("\n\n")[:2]
    assert first[0] == "# Model Foundry"
    commands = [l.split("#")[0].strip() for l in first[1].splitlines()[1:-1]]
    assert commands == ["make quickstart", "make test"], "the README must open with the two commands"
