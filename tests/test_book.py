"""The notebooks stay a book: short export cells, prose in sections, small notebooks with 1x figures and outputs
that do not change with the clock or the scratch folder, modules under 500 lines, imports only from earlier
chapters and never of another module's private names (tools/book.py measures all of it; `make book` prints it)."""
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import book  # tools/ is not a package: found through sys.path

pytestmark = pytest.mark.unit


def test_export_cells_are_short():
    sizes = sorted(n for n, _ in book.export_cells())
    median, p90 = book.statistics.median(sizes), sizes[int(0.9 * (len(sizes) - 1))]
    assert median <= book.LIMITS["median"], f"the median export cell has {median} lines"
    assert p90 <= book.LIMITS["p90"], f"the 90th percentile export cell has {p90} lines"
    over = [f"{where}: {n} lines" for n, where in book.export_cells() if n > book.LIMITS["cell"]]
    assert not over, over


def test_no_markdown_cell_runs_over_200_words():
    assert not book.long_markdown(), book.long_markdown()


def test_notebooks_are_small_and_their_outputs_repeatable():
    problems = book.output_problems()
    assert not problems, "\n".join(problems)


def test_modules_are_under_500_lines():
    assert not book.long_modules(), book.long_modules()


def test_imports_follow_the_chapters_and_take_no_private_names():
    problems = book.import_problems()
    assert not problems, "\n".join(problems)


def test_notebook_tests_assert_values_not_booleans():
    problems = book.boolean_tests()
    assert not problems, "\n".join(problems)


def test_cells_with_imports_hold_only_imports():
    "nbdev's processing for the docs runs every cell with an import, alone: other code there fails the site build."
    assert not book.mixed_import_cells(), book.mixed_import_cells()


def test_the_import_check_sees_what_it_must_refuse(tmp_path, monkeypatch):
    "The measure itself: a private import across modules, and an import of a later chapter, are both reported."
    pkg = tmp_path / "model_foundry"
    (pkg / "training").mkdir(parents=True)
    (pkg / "config.py").write_text("from .training.loop import run\n")
    (pkg / "training" / "loop.py").write_text("from ..config import _secret\n\ndef run(): pass\n")
    (pkg / "data.py").write_text("from .training import loop\nfrom model_foundry import trainer\n")  # modules as names
    (pkg / "trainer.py").write_text("")
    monkeypatch.setattr(book, "PKG", pkg)
    monkeypatch.setattr(book, "chapters", lambda: {"config": (1, None), "data": (9, None), "training.loop": (13, None), "trainer": (15, None)})
    problems = book.import_problems()
    assert any("training.loop imports private _secret from config" in p for p in problems), problems
    assert any("config (chapter 01) imports training.loop (chapter 13)" in p for p in problems), problems
    assert any("data (chapter 09) imports training.loop (chapter 13)" in p for p in problems), problems
    assert any("data (chapter 09) imports trainer (chapter 15)" in p for p in problems), problems
