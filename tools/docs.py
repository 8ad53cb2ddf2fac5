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
- the navigation follows nbs/sidebar.yml; a notebook it does not list is added after the others of its folder;
- under each page's title, links to its notebook and the module it exports to in the repository (`Repository` of
  pyproject.toml's `[project.urls]`), and to the issue tracker.

README.md is written by tools/readme.py on both paths: one generator, so the README does not depend on which
machine built it (`nbdev-readme`, Quarto's, writes it differently, and would make a README that CI rejects).
"""
import argparse
import ast
import dataclasses
import functools
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
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
WORK = ROOT / "_sphinx"  # staged sources, Sphinx's cache and its HTML before it is copied to docs/
SRC, HTML = WORK / "src", WORK / "html"
CONF = ROOT / "tools" / "sphinx"


def repository() -> str:
    "The repository's address, from pyproject.toml's `[project.urls]`."
    import tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"].rstrip("/")


def source_links(nb_path: Path, module=None, repo: str = "", branch: str = "main") -> dict:
    "A markdown cell: the page's notebook and module in the repository, and where to report an issue."
    def blob(path: str) -> str: return f"[{path}]({repo}/blob/{branch}/{path})"
    parts = [f"Source: {blob(f'nbs/{nb_path.as_posix()}')}"]
    if module is not None: parts.append(f"exported to {blob(Path(inspect.getfile(module)).relative_to(ROOT).as_posix())}")
    parts.append(f"[Report an issue]({repo}/issues/new)")
    return _markdown("```{container} source-links\n" + " · ".join(parts) + "\n```")


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


def _cell(text) -> str:
    "Text for a markdown table cell: one line, its pipes escaped."
    return " ".join(str(text).split()).replace("|", "\\|")


def _table(rows: list[tuple]) -> str:
    "A parameter table (name, type, default, details), as nbdev's and transformers' sites show parameters."
    lines = ["| Parameter | Type | Default | Details |", "|---|---|---|---|"]
    lines += [f"| `{_cell(n)}` | {_cell(t)} | {_cell(d)} | {_cell(doc)} |" for n, t, d, doc in rows]
    return "\n".join(lines)


def _code_span(text: str) -> str: return f"`{text}`" if text else ""


def fields_rows(found: list[tuple]) -> list[tuple]:
    """The parameter table's rows for the `fields` of a dataclass, NamedTuple or pydantic model, each field's
    constraints after its type."""
    return [(n, ", ".join([_code_span(t), *c]), "*required*" if d is None else _code_span(d), doc)
            for n, t, d, c, doc in found]


def _parameters(fn, method: bool) -> list[tuple]:
    """(name as shown, annotation, default, kind) of each parameter of `fn` as its source writes them (`self` or `cls`
    of a method left out); None where the source cannot be read."""
    try: node = ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(fn)))).body[0]
    except (OSError, TypeError, SyntaxError, IndexError): return None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)): return None
    a, text = node.args, lambda e: None if e is None else ast.unparse(e)
    positional = [*a.posonlyargs, *a.args]
    defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    found = [(p.arg, text(p.annotation), text(d), "posonly" if i < len(a.posonlyargs) else "")
             for i, (p, d) in enumerate(zip(positional, defaults))]
    if method and found: found = found[1:]
    if a.vararg: found.append((f"*{a.vararg.arg}", text(a.vararg.annotation), None, "var"))
    elif a.kwonlyargs: found.append(("*", None, None, "star"))
    found += [(p.arg, text(p.annotation), text(d), "") for p, d in zip(a.kwonlyargs, a.kw_defaults)]
    if a.kwarg: found.append((f"**{a.kwarg.arg}", text(a.kwarg.annotation), None, "var"))
    if a.posonlyargs and len(a.posonlyargs) > (1 if method else 0):
        found.insert(len(a.posonlyargs) - (1 if method else 0), ("/", None, None, "star"))
    return found + [("return", text(node.returns), None, "return")]


def _signature(params: list[tuple]) -> str:
    shown = [n + (f": {t}" if t else "") + ((" = " if t else "=") + d if d is not None else "")
             for n, t, d, k in params if k != "return"]
    returns = next((t for n, t, d, k in params if k == "return" and t), None)
    return f"({', '.join(shown)})" + (f" -> {returns}" if returns else "")


def _doc(obj) -> str:
    "The object's own docstring (not one a class inherits, nor the signature a dataclass or NamedTuple writes)."
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    if not doc or (inspect.isclass(obj) and re.match(rf"{re.escape(obj.__name__)}\(", doc)): return ""
    return inspect.cleandoc(doc)


def describe(module, dotted: str):
    """(directive, signature, docstring, rows of the parameter table) of `dotted` (`Name` or `Class.attr`) in
    `module`, read from the package's source; None when it is not a function, class, method or property there."""
    from fastcore.docments import docments
    try:
        owner, obj = None, module
        for part in dotted.split("."): owner, obj = obj, inspect.getattr_static(obj, part)
    except AttributeError: return None
    method = inspect.isclass(owner)
    if isinstance(obj, (property, functools.cached_property)):
        fget = obj.fget if isinstance(obj, property) else obj.func
        params = _parameters(fget, True) or []
        return "property", next((t for n, t, _, k in params if k == "return" and t), ""), _doc(fget), []
    kind = {staticmethod: "staticmethod", classmethod: "classmethod"}.get(type(obj))
    if kind: obj = obj.__func__
    if inspect.isclass(obj):
        if (found := fields(obj)):
            return "class", _signature([(n, t, d, "") for n, t, d, _, _ in found]), _doc(obj), fields_rows(found)
        init = next((c.__dict__["__init__"] for c in obj.__mro__ if "__init__" in c.__dict__), None)
        params = _parameters(init, True) if init is not None and init is not object.__init__ else []
        fn, directive = init, "class"
    elif inspect.isfunction(obj):
        params, fn = _parameters(obj, method and kind != "staticmethod"), obj
        directive = kind or ("method" if method else "function")
    else: return None
    if params is None:
        try: return directive, str(inspect.signature(obj)), _doc(obj), []
        except (TypeError, ValueError):  # an exception's constructor is BaseException's, which takes any arguments
            if inspect.isclass(obj) and issubclass(obj, BaseException): return directive, "(*args)", _doc(obj), []
            return None
    try: notes = docments(fn) if fn is not None else {}
    except Exception: notes = {}  # a signature docments cannot read: no details
    rows = [(n, _code_span(t), "*required*" if d is None else _code_span(d), notes.get(n.lstrip("*")) or "")
            for n, t, d, k in params if k in ("", "posonly", "var")]
    if notes.get("return"): rows.append(("return", _code_span(next((t for n, t, _, k in params if k == "return"), "")),
                                         "", notes["return"]))
    return directive, _signature(params), _doc(obj), rows


def entry(md: str, code: str, module, seen: dict) -> str:
    """`show_doc`'s markdown for one name (`code` is `show_doc(Name)`) as the site shows it, and the name's full
    dotted path: nbdev's heading, then the name as a Python object of Sphinx's (a class as a class, with its module;
    in the general index and a target of cross-links), its docstring and a table of its parameters (name, type,
    default, and the comment after each). Read from the package module the notebook exports to: in the notebook's
    kernel nbdev cannot read the source of what a cell defines. `seen` ({full dotted path: name as documented})
    gains the name; one documented twice is indexed once. Anything else keeps nbdev's markdown."""
    m = re.fullmatch(r"\s*show_doc\(([\w.]+)\)\s*", code)
    got = describe(module, m[1]) if m and module is not None else None
    heading = re.search(r"^#+ .+$", md, flags=re.M)
    if got is None or heading is None: return md
    directive, sig, doc, rows = got
    full = f"{module.__name__}.{m[1]}"
    head = f":::{{py:{directive}}} {m[1]}" + ("" if directive == "property" else sig)
    opts = [f":module: {module.__name__}"] + ([f":type: {sig}"] if directive == "property" and sig else [])
    if full in seen: opts.append(":no-index:")
    seen[full] = m[1]
    body = [doc, _table(rows) if rows else ""]
    title = re.sub(r"(?<!\\)_", r"\\_", heading[0])  # `__len__` is the name, not bold
    return "\n".join([title, "", head, *opts, "", *[b + "\n" for b in body if b], ":::", ""])


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


def stage_notebook(nb: dict, module=None, seen: Optional[dict] = None) -> tuple[str, dict]:
    """The page name (`output-file` without `.html`) and the notebook as myst-nb should render it; each name it
    documents becomes an `entry`, read from `module`, the package module it exports to (`seen` gains them)."""
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
            if (md := _asis(cell.get("outputs", []))): out.append(_markdown(entry(md, code, module, seen if seen is not None else {})))
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


def link_targets(documented: dict) -> dict:
    """{name as a reader writes it in backticks: full dotted path} of the documented names: `Name`, `Class.method`
    and the full path. A short name that two modules document, or that is also a method's name (prose says
    `save_checkpoint` for `CheckpointManager.save_checkpoint`), is left out: it does not say which it is."""
    found, clash = {}, {name.rpartition(".")[2] for name in documented.values() if "." in name}
    for full, name in documented.items():
        for key in (name, full):
            if found.get(key, full) != full: clash.add(key)
            found[key] = full
    return {k: v for k, v in found.items() if k not in clash}


_FENCE = re.compile(r"^\s*(`{3,}|~{3,})(.*)$")
_LINK = re.compile(r"\[[^\]]*\]\([^)]*\)")
_NAME = re.compile(r"(?<![`{\w])`([A-Za-z_][\w.]*(?:\(\))?)`(?!`)")  # `Name`, `Class.method`, `name()`


def crosslinks(text: str, targets: dict) -> str:
    """Markdown with each name in backticks (`CheckpointManager`, `Trainer.check`, `Trainer.check()`) that `targets`
    knows made a link to its entry (a `py:obj` role); code blocks, headings and the text of links are left as they
    are, and so are directive lines."""
    def link(m, spans):
        name = m[1]
        full = targets.get(name[:-2] if name.endswith("()") else name)
        if not full or any(a <= m.start() < b for a, b in spans): return m[0]  # in the text of a link
        return f"{{py:obj}}`{name} <{full}>`"
    out, fence = [], None
    for line in text.split("\n"):
        f = _FENCE.match(line)
        if fence:
            if f and f[1][0] == fence[0] and len(f[1]) >= len(fence) and not f[2].strip(): fence = None
            out.append(line); continue
        if f and not f[2].lstrip().startswith("{"):  # a code block (a directive's content is markdown)
            fence = f[1]; out.append(line); continue
        if f or line.lstrip().startswith(("#", ":")): out.append(line); continue
        out.append(_NAME.sub(functools.partial(link, spans=[m.span() for m in _LINK.finditer(line)]), line))
    return "\n".join(out)


def _write(path: Path, text: str):
    "Write only what changed, so Sphinx rebuilds only those pages."
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def stage(proc: Path, nav: list[tuple]) -> list[str]:
    "Stage every page under SRC, the navigation in the home page; returns the page names in order."
    from nbdev.config import nbpath2html
    pages, home, documented = [], None, {}
    repo = repository()
    for section, nb_path in nav:
        module = exported_module(nb_path)
        name, nb = stage_notebook(json.loads((proc / nb_path).read_text(encoding="utf-8")), module, documented)
        title = next((i + 1 for i, c in enumerate(nb["cells"]) if c["cell_type"] == "markdown"
                      and _text(c["source"]).lstrip().startswith("# ")), 0)  # under the page's title
        nb["cells"].insert(title, source_links(nb_path, module, repo))
        if module is not None:  # the module in the general index and the module index
            nb["cells"].insert(title + 1, _markdown(f":::{{py:module}} {module.__name__}\n:::"))
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
    toctrees.append(["```{toctree}", ":hidden:", ":caption: Reference", "", "Index <genindex>",
                     "Module index <modindex>"])
    home["cells"].append(_markdown("\n\n".join("\n".join(t + ["```"]) for t in toctrees)))
    staged = {"index": home, **{page: nb for _, page, nb in pages}}  # page name -> notebook, in order
    targets = link_targets(documented)
    for page, nb in staged.items():
        _link_pages(nb, page, staged.keys())
        for cell in nb["cells"]:
            if cell["cell_type"] == "markdown": cell["source"] = crosslinks(_text(cell["source"]), targets)
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
