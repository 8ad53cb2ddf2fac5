"""Build the documentation site into docs/ from the notebooks, and README.md from nbs/index.ipynb (`make docs`).

Where Quarto is installed the site is nbdev's own pipeline (`nbdev-docs`).

Where it is not, nbdev still processes the notebooks: `proc_nbs` (what `nbdev-proc-nbs` runs, without its Quarto
install attempt and without rewriting `_quarto.yml`, `sidebar.yml` or `_modidx.py`) executes the exported cells,
renders every `show_doc` and applies the nbdev directives, writing the processed notebooks to _proc/. Sphinx with
myst-nb (execution off: the saved outputs are shown) and the furo theme then renders them, with navigation and
search. What is here is only the glue between the two:

- each processed notebook is staged in _sphinx/src/ under the page name Quarto would give it (`output-file` of its
  front matter, so `00_config.ipynb` is still `config.html`), with its front matter turned into the page title;
- the Quarto cell options that nbdev leaves for Quarto become myst-nb's: `echo: false` hides the code,
  `output: false` the output, `include: false` the cell, `code-fold: true` folds the code (`code-fold: show`, an
  `exports` cell's, is code shown), and `output: asis` (what `show_doc` uses) puts the markdown output in the page
  itself, so each documented name is a real heading;
- under the heading of a dataclass, NamedTuple or pydantic model, its signature and the list of its fields (type,
  constraints, default, and the comment after the field) come from its counterpart in the package: in the
  notebook's kernel `show_doc` cannot read the source of a class defined in a cell, so it leaves out the field
  docs, and it shows a pydantic model as `(**data)`;
- the navigation follows nbs/sidebar.yml; a notebook it does not list is added after the others of its folder.

README.md is written by tools/readme.py on both paths: one generator, so the README does not depend on which
machine built it (`nbdev-readme`, Quarto's, writes it differently, and would make a README that CI rejects).
"""
import argparse
import ast
import dataclasses
import importlib
import inspect
import io
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
WORK = ROOT / "_sphinx"  # staged sources, Sphinx's cache and its HTML before it is copied to docs/
SRC, HTML = WORK / "src", WORK / "html"
CONF = ROOT / "tools" / "sphinx"


# ------------------------------------------------------------------ the notebooks and their order

def notebooks() -> list[Path]:
    "Every notebook of the site, relative to nbs/ (nbdev's rule: folders starting with `_` or `.` are skipped)."
    from nbdev.doclinks import nbglob
    return sorted(Path(p).relative_to(NBS) for p in nbglob(NBS, file_re=r"\.ipynb$", skip_folder_re=r"^[_.]"))


def _sidebar_entries(contents, section=None):
    for item in contents or []:
        if isinstance(item, str): yield section, item
        elif isinstance(item, dict) and "section" in item:
            if "href" in item: yield item["section"], item["href"]
            yield from _sidebar_entries(item.get("contents"), item["section"])
        elif isinstance(item, dict) and "href" in item: yield section, item["href"]


def navigation(nbs: list[Path], sidebar: Path = NBS / "sidebar.yml") -> list[tuple]:
    """(section, notebook) pairs in the order of `sidebar`; notebooks it does not list follow the last listed one
    of their folder (or end the list). Entries that are not notebooks of the site are left out."""
    import yaml
    listed = yaml.safe_load(sidebar.read_text())["website"]["sidebar"]["contents"] if sidebar.exists() else []
    known, order = set(nbs), []
    for section, href in _sidebar_entries(listed):
        p = Path(href)
        if p in known and all(p != q for _, q in order): order.append((section, p))
    for p in (p for p in nbs if p not in {q for _, q in order}):
        same = [i for i, (_, q) in enumerate(order) if q.parent == p.parent and q.name != "index.ipynb"]
        at = same[-1] + 1 if same else len(order)
        section = order[same[-1]][0] if same else (p.parent.name.replace("_", " ").title() if p.parent.parts else None)
        print(f"docs: {p} is not in nbs/sidebar.yml; listed after the other pages of its folder", file=sys.stderr)
        order.insert(at, (section, p))
    return order


# ------------------------------------------------------------------ the fields of dataclasses, NamedTuples and models

_BOUNDS = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤", "min_length": "length ≥", "max_length": "length ≤"}


def _declared(cls) -> dict:
    """{field: (type as written, the comment after it)} from the class bodies of `cls` and of its bases in the same
    package, the nearest first."""
    found = {}
    for c in cls.__mro__:
        if c.__module__.partition(".")[0] != cls.__module__.partition(".")[0]: continue
        try: src = textwrap.dedent(inspect.getsource(c))
        except (OSError, TypeError): continue
        notes = {t.start[0]: t.string.lstrip("#").strip()
                 for t in tokenize.generate_tokens(io.StringIO(src).readline) if t.type == tokenize.COMMENT}
        for node in ast.parse(src).body[0].body:
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                note = next((notes[i] for i in range(node.lineno, node.end_lineno + 1) if i in notes), "")
                found.setdefault(node.target.id, (ast.unparse(node.annotation), note))
    return found


def _default(v, factory=None) -> str:
    if factory is not None: return f"{getattr(factory, '__name__', 'factory')}()"
    if getattr(v, "model_fields_set", None) == set(): return f"{type(v).__name__}()"  # a pydantic model as it comes
    return repr(v)


def fields(cls) -> list[tuple]:
    """(name, type, default, constraints, doc) of each field of a dataclass, NamedTuple or pydantic model (none for
    other classes), from the package's source: the type as written, the doc the comment after the field, the default
    as Python writes it (None: required)."""
    if not inspect.isclass(cls): return []
    if isinstance(getattr(cls, "model_fields", None), dict):  # pydantic
        got = [(n, f.annotation, None if f.is_required() else _default(f.default, f.default_factory),
                [f"{op} {getattr(m, k)}" for m in f.metadata for k, op in _BOUNDS.items() if hasattr(m, k)])
               for n, f in cls.model_fields.items()]
    elif dataclasses.is_dataclass(cls):
        none = dataclasses.MISSING
        got = [(f.name, f.type, None if f.default is none and f.default_factory is none else
                _default(f.default, None if f.default_factory is none else f.default_factory), [])
               for f in dataclasses.fields(cls) if f.init]
    elif issubclass(cls, tuple) and hasattr(cls, "_fields"):  # NamedTuple
        got = [(n, cls.__annotations__.get(n, ""),
                _default(cls._field_defaults[n]) if n in cls._field_defaults else None, []) for n in cls._fields]
    else: return []
    declared = _declared(cls)
    return [(n, declared[n][0] if n in declared else t if isinstance(t, str) else inspect.formatannotation(t),
             d, c, declared.get(n, ("", ""))[1]) for n, t, d, c in got]


def fields_markdown(name: str, cls) -> tuple[str, str]:
    """The signature of a class with fields, written as `show_doc` writes signatures, and the list of its fields, one
    line each: name (type, constraints, default) — doc; ("", "") for a class without fields."""
    rows = fields(cls)
    if not rows: return "", ""
    kinds = {n: p.kind for n, p in inspect.signature(cls).parameters.items()}
    params = []
    for n, t, d, _, _ in rows:
        if kinds.get(n) == inspect.Parameter.KEYWORD_ONLY and "*" not in params: params.append("*")
        params.append(f"{n}:{t}" + ("" if d is None else f"={d}"))
    lines = [""]
    for p in params:  # as many on a line as the page shows without scrolling
        if lines[-1] and len(lines[-1]) + len(p) > 82: lines[-1] += ","; lines.append(p)
        else: lines[-1] = f"{lines[-1]}, {p}" if lines[-1] else p
    sig = f"def {name}(\n    " + "\n    ".join(lines) + "\n):"
    defaults = any(d is not None for _, _, d, _, _ in rows)  # "required" on every line would say nothing
    items = [f"- **`{n}`** (" + ", ".join([f"`{t}`", *c, *(["*required*" if d is None else f"default `{d}`"]
                                                          if defaults else [])]) + ")" + (f" — {doc}" if doc else "")
             for n, t, d, c, doc in rows]
    return sig, "\n".join(items)


def _with_fields(md: str, code: str, module) -> str:
    """`show_doc`'s markdown for a class with fields (`code` is `show_doc(Name)`), with the signature and the list of
    the fields of its counterpart in `module` (in the notebook's kernel its source is not there to read)."""
    m = re.fullmatch(r"\s*show_doc\((\w+)\)\s*", code)
    sig, items = fields_markdown(m[1], getattr(module, m[1], None)) if m and module else ("", "")
    if not sig: return md
    md = re.sub(r"```python\n.*?\n```", lambda _: f"```python\n{sig}\n```", md, count=1, flags=re.S)
    return f"{md.rstrip()}\n\n{items}\n"


def exported_module(nb_path: Path):
    "The package module notebook `nb_path` (relative to nbs/) exports to (its `default_exp`), imported; or None."
    from nbdev.config import get_config
    m = re.search(r"#\|\s*default_exp\s+([\w.]+)", (NBS / nb_path).read_text(encoding="utf-8"))
    return importlib.import_module(f"{get_config(ROOT).lib_path.name}.{m[1]}") if m else None


# ------------------------------------------------------------------ staging a processed notebook for myst-nb

# nbdev gives an `exports` cell `code-fold: show`, Quarto's foldable code that starts open: here it is plain code
_QUARTO_TAGS = {("echo", "false"): "remove-input", ("output", "false"): "remove-output",
                ("include", "false"): "remove-cell", ("code-fold", "true"): "hide-input"}


def _text(src) -> str: return src if isinstance(src, str) else "".join(src)


def _options(source: str) -> tuple[dict, str]:
    "The `#| key: value` Quarto options that open a cell, and the code without them."
    lines, opts = source.splitlines(), {}
    while lines and lines[0].startswith("#|"):
        key, _, value = lines.pop(0)[2:].partition(":")
        opts[key.strip()] = value.strip().lower()
    return opts, "\n".join(lines)


def _front_matter(cell) -> dict:
    import yaml
    src = _text(cell["source"]).strip()
    if cell["cell_type"] != "raw" or not src.startswith("---"): return {}
    return yaml.safe_load(src.strip("-\n")) or {}


def _markdown(text: str) -> dict: return {"cell_type": "markdown", "metadata": {}, "source": text}


def _asis(outputs) -> str:
    """The markdown a cell with `output: asis` puts in the page (a leading rule is dropped: docutils has no rule
    before a heading, and the heading separates the entries already)."""
    parts = [_text(o["data"]["text/markdown"]) for o in outputs if "text/markdown" in o.get("data", {})]
    return "\n\n".join(re.sub(r"\A\s*---+\s*\n", "", p) for p in parts)


def stage_notebook(nb: dict, module=None) -> tuple[str, dict]:
    """The page name (`output-file` without `.html`) and the notebook as myst-nb should render it; the classes with
    fields that it documents get their fields from `module`, the package module it exports to."""
    cells = list(nb["cells"])
    fm = _front_matter(cells[0]) if cells else {}
    if fm: cells.pop(0)
    head = [_markdown("\n\n".join(filter(None, [f"# {fm['title']}", fm.get("description")])))] if "title" in fm else []
    out = []
    for cell in cells:
        if cell["cell_type"] != "code":
            out.append(cell)
            continue
        opts, code = _options(_text(cell["source"]))
        if opts.get("output") == "asis":
            if opts.get("echo") != "false": out.append({**cell, "source": code, "outputs": []})
            if (md := _asis(cell.get("outputs", []))): out.append(_markdown(_with_fields(md, code, module)))
            continue
        meta = {k: v for k, v in cell.get("metadata", {}).items() if k != "execution"}  # execnb's timings
        tags = [*meta.get("tags", []), *(t for (k, v), t in _QUARTO_TAGS.items() if opts.get(k) == v)]
        if tags: meta["tags"] = list(dict.fromkeys(tags))
        out.append({**cell, "metadata": meta, "source": code})
    metadata = {k: v for k, v in nb.get("metadata", {}).items() if k != "widgets"}  # no widget scripts to fetch
    name = Path(fm.get("output-file", "")).stem
    return name, {**nb, "metadata": metadata, "cells": head + out}


def _link_pages(nb: dict, page: str, pages: set):
    "Links between pages name the HTML (`config.html#load_config`); Sphinx resolves links to their sources."
    here = Path(page).parent
    def fix(m):
        target = os.path.normpath(here / m[1]).replace(os.sep, "/")
        return f"]({m[1]}.ipynb{m[2] or ''})" if target in pages else m[0]
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            cell["source"] = re.sub(r"\]\(([\w./-]+)\.html(#[\w-]*)?\)", fix, _text(cell["source"]))


def _write(path: Path, text: str):
    "Write only what changed, so Sphinx rebuilds only those pages."
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def stage(proc: Path, nav: list[tuple]) -> list[str]:
    "Stage every page under SRC, the navigation in the home page; returns the page names in order."
    from nbdev.config import nbpath2html
    pages, home = [], None
    for section, nb_path in nav:
        name, nb = stage_notebook(json.loads((proc / nb_path).read_text(encoding="utf-8")), exported_module(nb_path))
        page = (nb_path.parent / name).as_posix() if name else nbpath2html(nb_path).with_suffix("").as_posix()
        if page == "index": home = nb
        else: pages.append((section, page, nb))
    if home is None: raise SystemExit("docs: nbs/index.ipynb (the home page) is missing")
    toctrees, last = [], object()
    for section, page, _ in pages:
        if section != last:
            toctrees.append(["```{toctree}", ":hidden:", *([f":caption: {section}"] if section else []), ""])
            last = section
        toctrees[-1].append(page)
    home["cells"].append(_markdown("\n\n".join("\n".join(t + ["```"]) for t in toctrees)))
    staged = {"index": home, **{page: nb for _, page, nb in pages}}  # page name -> notebook, in order
    for page, nb in staged.items():
        _link_pages(nb, page, staged.keys())
        for i, cell in enumerate(nb["cells"]): cell.setdefault("id", f"cell-{i}")  # nbformat 4.5 wants ids
        _write(SRC / f"{page}.ipynb", json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    for stale in set(SRC.rglob("*.ipynb")) - {SRC / f"{page}.ipynb" for page in staged}: stale.unlink()
    return list(staged)


# ------------------------------------------------------------------ the two pipelines

def build_quarto():
    "nbdev's own pipeline; README.md from tools/readme.py."
    subprocess.run([str(Path(sys.executable).parent / "nbdev-docs")], cwd=ROOT, check=True)
    subprocess.run([sys.executable, str(ROOT / "tools" / "readme.py")], check=True)


def build_sphinx(strict: bool = False):
    "nbdev's processing, then Sphinx + myst-nb; README.md from tools/readme.py."
    from nbdev.config import get_config
    from nbdev.serve import proc_nbs
    from sphinx.cmd.build import build_main
    # the processed notebooks document this checkout's package, whatever else is installed (nbdev's workers start
    # with this process's sys.path)
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    site = get_config(ROOT).doc_path
    t0 = time.time()
    try: proc = proc_nbs(str(NBS), n_workers=os.cpu_count() or 1)
    except Exception as e:  # nbdev names the notebook and the cell; its traceback through the workers says nothing
        raise SystemExit(f"docs: nbdev could not process the notebooks.\n{e}\n\nTo render `show_doc`, nbdev runs "
                         "each notebook's exported cells, show_doc cells and every cell with an import: such a cell "
                         "must hold only imports.") from None
    t1 = time.time()
    pages = stage(proc, navigation(notebooks()))
    args = ["-b", "html", "-q", "-j", "auto", "-c", str(CONF), "-d", str(WORK / "doctrees"), str(SRC), str(HTML)]
    if strict: args[:0] = ["-W", "--keep-going"]  # a broken link or a page Sphinx cannot read fails the build
    if build_main(args): raise SystemExit("docs: sphinx-build failed (its messages above say where)")
    shutil.rmtree(site, ignore_errors=True)
    shutil.copytree(HTML, site, ignore=shutil.ignore_patterns(".buildinfo"))
    t2 = time.time()
    subprocess.run([sys.executable, str(ROOT / "tools" / "readme.py")], check=True)
    print(f"docs: {len(pages)} pages in {site.relative_to(ROOT)}/ (notebooks processed in {t1 - t0:.0f} s, rendered in {t2 - t1:.0f} s); "
          "README.md written from nbs/index.ipynb")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sphinx", action="store_true", help="use the Quarto-free path even where Quarto is installed")
    ap.add_argument("--strict", action="store_true", help="Quarto-free path: fail on any Sphinx warning")
    args = ap.parse_args(argv)
    if shutil.which("quarto") and not args.sphinx: build_quarto()
    else: build_sphinx(strict=args.strict)


if __name__ == "__main__": main()
