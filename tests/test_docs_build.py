"""How tools/docs.py turns nbdev's processed notebooks into the site's pages (no build, no browser: milliseconds)."""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def docs():
    spec = importlib.util.spec_from_file_location("docs_build", ROOT / "tools" / "docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SIDEBAR = """website:
  sidebar:
    contents:
      - index.ipynb
      - 01_b.ipynb
      - 00_a.ipynb
      - section: Tutorials
        contents:
          - tutorials/first.ipynb
"""


@pytest.mark.unit
def test_navigation_follows_the_sidebar_and_adds_what_it_does_not_list(docs, tmp_path):
    (tmp_path / "sidebar.yml").write_text(SIDEBAR)
    nbs = [Path(p) for p in ("00_a.ipynb", "01_b.ipynb", "02_c.ipynb", "index.ipynb", "tutorials/first.ipynb",
                             "tutorials/new.ipynb")]
    assert docs.navigation(nbs, tmp_path / "sidebar.yml") == [
        (None, Path("index.ipynb")), (None, Path("01_b.ipynb")), (None, Path("00_a.ipynb")),
        (None, Path("02_c.ipynb")),  # not listed: after the last listed page of its folder
        ("Tutorials", Path("tutorials/first.ipynb")), ("Tutorials", Path("tutorials/new.ipynb"))]


@pytest.mark.unit
def test_the_repository_sidebar_lists_only_notebooks_that_exist(docs):
    nbs = docs.notebooks()
    listed = [href for _, href in docs._sidebar_entries(
        __import__("yaml").safe_load((ROOT / "nbs" / "sidebar.yml").read_text())["website"]["sidebar"]["contents"])]
    assert [h for h in listed if Path(h) not in nbs] == [], "nbs/sidebar.yml lists files that are not notebooks"


def _code(source, outputs=()):
    return {"cell_type": "code", "metadata": {"execution": {"total": 0.1}}, "source": source,
            "outputs": list(outputs), "execution_count": None}


@pytest.mark.unit
def test_a_processed_notebook_becomes_a_page_with_quartos_cell_options_applied(docs):
    doc = {"output_type": "execute_result", "metadata": {}, "execution_count": 1,
           "data": {"text/markdown": "---\n\n### load_config\n\n```python\ndef load_config(\n    path, # YAML file\n):\n```",
                    "text/plain": "def load_config"}}
    nb = {"metadata": {"widgets": {}}, "nbformat": 4, "nbformat_minor": 5, "cells": [
        {"cell_type": "raw", "metadata": {}, "source": "---\ntitle: Config\ndescription: The experiment config.\n"
                                                       "output-file: config.html\n---\n"},
        _code("#| echo: false\n#| output: asis\nshow_doc(load_config)", [doc]),
        _code("#| echo: false\nprint(1)"),
        _code("#| include: false\nx = 1"),
        _code("#| eval: false\ntrain()"),
        {"cell_type": "markdown", "metadata": {}, "source": "See [the data](data.html#corpus_files)."}]}
    name, page = docs.stage_notebook(nb)
    assert name == "config" and "widgets" not in page["metadata"]
    cells = page["cells"]
    assert cells[0] == {"cell_type": "markdown", "metadata": {}, "source": "# Config\n\nThe experiment config."}
    assert cells[1]["cell_type"] == "markdown" and cells[1]["source"].startswith("### load_config\n")  # in the page
    assert (cells[2]["source"], cells[2]["metadata"]) == ("print(1)", {"tags": ["remove-input"]})
    assert cells[3]["metadata"] == {"tags": ["remove-cell"]}
    assert (cells[4]["source"], cells[4]["metadata"]) == ("train()", {})
    docs._link_pages(page, "config", {"config", "data"})
    assert cells[5]["source"] == "See [the data](data.ipynb#corpus_files)."
