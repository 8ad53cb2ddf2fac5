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


DOCUMENTED = '''
from __future__ import annotations
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple, Optional, Union
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

class Oops(ValueError):
    "A mistake."

class Store:
    "Where things go."
    def __init__(self, path: Union[str, Path], # the folder
                 *, keep: int = 2): # how many to keep
        self.path = path
    def put(self, name: str, data: bytes = b"") -> Path: # the file written
        "Write `data` under `name`."
    @property
    def size(self) -> int: "Bytes held."

def helper(x: int, # a number with a | in its doc
           *rest, **options) -> int:
    "Helps."
    return x
'''


@pytest.fixture
def documented(tmp_path, monkeypatch):
    (tmp_path / "documentedmod.py").write_text(DOCUMENTED)
    monkeypatch.syspath_prepend(str(tmp_path))
    return importlib.import_module("documentedmod")


@pytest.mark.unit
def test_each_name_is_described_from_the_package_source(docs, documented):
    kind, sig, doc, rows = docs.describe(documented, "Rule")  # pydantic: inherited fields with their docs and bounds
    assert (kind, sig, doc) == ("class", "(every: Optional[int] = None, kind: Literal['log', 'linear'], base: float = 2)",
                                "A rule.")
    assert rows == [("every", "`Optional[int]`, > 0", "`None`", "steps between checkpoints"),
                    ("kind", "`Literal['log', 'linear']`", "*required*", "how it places checkpoints"),
                    ("base", "`float`, > 1, ≤ 10", "`2`", "ratio between checkpoints")]
    assert docs.describe(documented, "Plan")[3][1] == ("marks", "`list[int]`", "`list()`", "extra checkpoints")
    assert docs.describe(documented, "Plan")[2] == docs.describe(documented, "Pair")[2] == ""  # no generated doc
    assert docs.describe(documented, "Pair")[1] == "(good: str, bad: str)"
    assert docs.describe(documented, "Oops") == ("class", "(*args)", "A mistake.", [])
    assert docs.describe(documented, "Store") == ("class", "(path: Union[str, Path], *, keep: int = 2)", "Where things go.",
                                                  [("path", "`Union[str, Path]`", "*required*", "the folder"),
                                                   ("keep", "`int`", "`2`", "how many to keep")])
    kind, sig, doc, rows = docs.describe(documented, "Store.put")
    assert (kind, sig, doc) == ("method", "(name: str, data: bytes = b'') -> Path", "Write `data` under `name`.")
    assert rows[-1] == ("return", "`Path`", "", "the file written")
    assert docs.describe(documented, "Store.size") == ("property", "int", "Bytes held.", [])
    kind, sig, _, rows = docs.describe(documented, "helper")
    assert (kind, sig) == ("function", "(x: int, *rest, **options) -> int")
    assert [r[0] for r in rows] == ["x", "*rest", "**options"]
    assert docs.describe(documented, "missing") is None and docs.describe(documented, "Store.nothing") is None


@pytest.mark.unit
def test_an_entry_is_the_heading_then_the_object_its_docstring_and_a_parameter_table(docs, documented):
    shown = "---\n\n### Store\n\n```python\ndef Store(\n    path, # the folder\n):\n```\n\n*Where things go.*"
    seen = {}
    page = docs.entry(shown, "show_doc(Store)", documented, seen)
    assert page.startswith("### Store\n\n:::{py:class} Store(path: Union[str, Path], *, keep: int = 2)\n"
                           ":module: documentedmod\n\nWhere things go.\n\n| Parameter | Type | Default | Details |")
    assert "| `path` | `Union[str, Path]` | *required* | the folder |" in page and page.endswith(":::\n")
    assert seen == {"documentedmod.Store": "Store"}
    assert ":no-index:" in docs.entry(shown, "show_doc(Store)", documented, seen)  # indexed once
    helper = docs.entry("### helper\n", "show_doc(helper)", documented, seen)
    assert "| `x` | `int` | *required* | a number with a \\| in its doc |" in helper  # one cell
    prop = docs.entry("#### Store.size\n", "show_doc(Store.size)", documented, seen)
    assert prop.startswith("#### Store.size\n\n:::{py:property} Store.size\n:module: documentedmod\n:type: int\n")
    assert docs.entry("### Store.\\_\\_init\\_\\_", "show_doc(Store.__init__)", documented, {}).startswith(
        "### Store.\\_\\_init\\_\\_\n")  # underscores stay the name's, not emphasis
    assert docs.entry("### x\n", "show_doc(x, title_level=2)", documented, {}) == "### x\n"  # nbdev's as it is


@pytest.mark.unit
def test_names_in_backticks_become_links_where_they_name_one_entry(docs):
    targets = docs.link_targets({"pkg.a.Store": "Store", "pkg.a.Store.put": "Store.put", "pkg.a.put": "put",
                                 "pkg.a.load": "load", "pkg.b.load": "load"})
    assert targets == {"Store": "pkg.a.Store", "pkg.a.Store": "pkg.a.Store", "Store.put": "pkg.a.Store.put",
                       "pkg.a.Store.put": "pkg.a.Store.put", "pkg.a.put": "pkg.a.put", "pkg.a.load": "pkg.a.load",
                       "pkg.b.load": "pkg.b.load"}  # `put` is also a method's name, `load` is in two modules
    text = "\n".join(["`Store` keeps files; `Store.put()` writes, `put` too, `load` reads; ``Store``.",
                      "See [`Store`](a.html) and `x = Store`.", "## `Store`", "```python", "`Store`", "```",
                      ":::{note}", "`Store.put`", ":::"])
    assert docs.crosslinks(text, targets).splitlines() == [
        "{py:obj}`Store <pkg.a.Store>` keeps files; {py:obj}`Store.put() <pkg.a.Store.put>` writes, `put` too, "
        "`load` reads; ``Store``.",
        "See [`Store`](a.html) and `x = Store`.", "## `Store`", "```python", "`Store`", "```",
        ":::{note}", "{py:obj}`Store.put <pkg.a.Store.put>`", ":::"]


@pytest.mark.unit
def test_every_page_gets_links_to_its_sources_and_the_issue_tracker(docs):
    cell = docs.source_links(Path("02_config.ipynb"), importlib.import_module("model_foundry.config"),
                             "https://example.org/r")
    assert cell["source"] == ("```{container} source-links\nSource: [nbs/02_config.ipynb]"
                              "(https://example.org/r/blob/main/nbs/02_config.ipynb) · exported to "
                              "[model_foundry/config.py](https://example.org/r/blob/main/model_foundry/config.py) · "
                              "[Report an issue](https://example.org/r/issues/new)\n```")


def test_the_readme_links_into_the_documentation_site():
    import re

    import tomllib
    site = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Documentation"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert site in readme
    relative = re.findall(r"\]\((?![a-z]+:)([\w./-]+\.html[^)]*)\)", readme)
    assert not relative, f"links that work on the site only, not where the README is read: {relative}"
