"""How tools/docs.py turns nbdev's processed notebooks into the site's pages (no build, no browser: milliseconds)."""
import importlib
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


FIELD_CLASSES = '''
from __future__ import annotations
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Optional
from pydantic import BaseModel, Field

class _Base(BaseModel):
    every: Optional[int] = Field(None, gt=0)  # steps between checkpoints

class Rule(_Base):
    "A rule."
    kind: Literal["log", "linear"]  # how it places checkpoints
    base: float = Field(2, gt=1, le=10)  # ratio between checkpoints

@dataclass
class Plan:
    steps: int  # optimizer steps
    marks: list[int] = field(default_factory=list)  # extra checkpoints

class Pair(NamedTuple):
    good: str  # the grammatical sentence
    bad: str  # the other one

def helper(x: int): return x
'''


@pytest.mark.unit
def test_classes_with_fields_get_their_fields_listed_from_the_package_source(docs, tmp_path, monkeypatch):
    (tmp_path / "fieldsmod.py").write_text(FIELD_CLASSES)
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("fieldsmod")
    sig, items = docs.fields_markdown("Rule", mod.Rule)  # pydantic: keyword-only, inherited fields with their docs
    assert sig == "def Rule(\n    *, every:Optional[int]=None, kind:Literal['log', 'linear'], base:float=2\n):"
    assert items.splitlines() == ["- **`every`** (`Optional[int]`, > 0, default `None`) — steps between checkpoints",
                                  "- **`kind`** (`Literal['log', 'linear']`, *required*) — how it places checkpoints",
                                  "- **`base`** (`float`, > 1, ≤ 10, default `2`) — ratio between checkpoints"]
    assert docs.fields_markdown("Plan", mod.Plan)[1].splitlines()[1] == \
        "- **`marks`** (`list[int]`, default `list()`) — extra checkpoints"
    sig, items = docs.fields_markdown("Pair", mod.Pair)  # no defaults: no "required" on every line
    assert (sig, items.splitlines()[0]) == ("def Pair(\n    good:str, bad:str\n):",
                                            "- **`good`** (`str`) — the grammatical sentence")
    assert docs.fields_markdown("helper", mod.helper) == docs.fields_markdown("_Base", None) == ("", "")
    shown = "### Rule\n\n```python\ndef Rule(\n    **data:Any\n)->None:\n```\n\n*A rule.*"
    page = docs._with_fields(shown, "show_doc(Rule)", mod)
    assert page.startswith("### Rule\n\n```python\ndef Rule(\n    *, every") and "**data" not in page
    assert page.endswith("*A rule.*\n\n" + docs.fields_markdown("Rule", mod.Rule)[1] + "\n")
    assert docs._with_fields(shown, "show_doc(helper)", mod) == shown
