"""The measures that keep the notebooks a book (`make book`; `tests/test_book.py` asserts them).

    .venv/bin/python tools/book.py            # every measure, one line each, and what is over a limit
    .venv/bin/python tools/book.py --verbose  # and the export cells by size, largest first

Chapters (the numbered notebooks in nbs/) and tutorials are read as JSON; modules as Python source, by their AST:

- export cells: lines of code in each `#| export` / `#| exports` cell (directive lines not counted), over all chapters:
  median at most 15, 90th percentile at most 40, none over 80;
- markdown cells: at most 200 words each, in every notebook;
- notebooks: at most 400 kB each; figures saved at 1x (no PNG wider than 1200 pixels: a 6.4-inch figure is 640 at 1x,
  1303 at the 2x that execnb and `nbdev-test` default to);
- saved outputs: no temporary paths (`/tmp/...`) and no clock times (`12:03:41`);
- modules: at most 500 lines each (`_modidx.py` aside);
- imports: no module imports a private name (`_x`) from another module of the package; a module imports only the
  modules of chapters before its own (the book's order is the import order), and a few pairs are ruled out besides;
- import cells: a code cell with an import anywhere in it holds only imports (nbdev runs every such cell, out of
  its place, when it processes the notebooks for the documentation site);
- tests that say what broke: no `test_eq(<condition>, True)` (`a in b`, `x > 3`, `all(...)`: a failure says only
  "False != True"); assert the condition, showing the values.
"""
import argparse
import ast
import base64
import json
import re
import statistics
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS, PKG = ROOT / "nbs", ROOT / "model_foundry"
LIMITS = dict(median=15, p90=40, cell=80, words=200, kb=400, png_width=1200, module_lines=500)
# besides the order of the chapters: pairs that would tie a module to a concern it does not own
FORBIDDEN = {"training.schedules": {"corpus", "shards", "data"}, "evaluation": {"plots"}}
TEMP_PATH = re.compile(r"/tmp/\S+|/var/folders/\S+")
CLOCK = re.compile(r"(?<![\d:.])\d\d:\d\d:\d\d(?![\d:])|\b20\d{6}[T_]\d{6}")  # 12:03:41, 20261203T120341


def notebooks() -> list[Path]:
    return sorted(p for p in NBS.rglob("*.ipynb") if not any(part.startswith((".", "_")) for part in p.relative_to(NBS).parts))


def chapters() -> dict[str, tuple[int, Path]]:
    "Module name -> (its chapter's number, the chapter), from each numbered notebook's `default_exp`."
    out = {}
    for nb in NBS.glob("[0-9]*.ipynb"):
        for c in json.loads(nb.read_text())["cells"]:
            m = re.search(r"^#\|\s*default_exp\s+(\S+)", "".join(c["source"]), re.M)
            if m: out[m[1]] = (int(re.match(r"\d+", nb.name)[0]), nb); break
    return out


def _source(cell) -> str: return "".join(cell["source"])


def export_cells() -> list[tuple[int, str]]:
    "(lines, where) of every export cell of the chapters."
    out = []
    for nb in sorted(NBS.glob("[0-9]*.ipynb")):
        for i, c in enumerate(json.loads(nb.read_text())["cells"]):
            src = _source(c)
            if c["cell_type"] == "code" and re.search(r"^#\|\s*exports?\s*$", src, re.M):
                out.append((sum(1 for line in src.splitlines() if not line.startswith("#|")), f"{nb.name} cell {i}"))
    return out


def long_markdown() -> list[tuple[int, str]]:
    "(words, where) of the markdown cells over the limit."
    return [(len(_source(c).split()), f"{nb.relative_to(NBS)} cell {i}") for nb in notebooks()
            for i, c in enumerate(json.loads(nb.read_text())["cells"])
            if c["cell_type"] == "markdown" and len(_source(c).split()) > LIMITS["words"]]


def _outputs(nb: Path):
    "(cell index, output) of a notebook."
    for i, c in enumerate(json.loads(nb.read_text())["cells"]):
        for o in c.get("outputs", []): yield i, o


def _png_width(data) -> int:
    raw = base64.b64decode(data if isinstance(data, str) else "".join(data))
    return struct.unpack(">I", raw[16:20])[0]


def output_problems() -> list[str]:
    "Notebooks over the size limit, figures over 1x, temporary paths and clock times in saved outputs."
    out = []
    for nb in notebooks():
        name, kb = nb.relative_to(NBS), nb.stat().st_size / 1024
        if kb > LIMITS["kb"]: out.append(f"{name}: {kb:,.0f} kB (limit {LIMITS['kb']} kB)")
        for i, o in _outputs(nb):
            data = o.get("data", {})
            if "image/png" in data and (w := _png_width(data["image/png"])) > LIMITS["png_width"]:
                out.append(f"{name} cell {i}: a figure {w} pixels wide (saved at more than 1x)")
            text = "".join(o.get("text", "")) + "".join(data.get("text/plain", "")) + "".join(data.get("text/html", ""))
            for what, pattern in (("a temporary path", TEMP_PATH), ("a clock time", CLOCK)):
                if m := pattern.search(text): out.append(f"{name} cell {i}: {what} in its output ({m[0][:60]})")
    return out


_PREDICATES = {"all", "any", "isinstance", "issubclass", "hasattr", "callable", "exists", "is_file", "is_dir",
               "startswith", "endswith", "isdigit", "allclose", "equal", "issubset", "issuperset", "isdisjoint"}


def _is_condition(node) -> bool:
    "Whether an expression is a condition computed for a test (`a in b`, `x > 3`, `all(...)`, `p.exists()`, ...)."
    if isinstance(node, (ast.Compare, ast.BoolOp)) or (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)):
        return True
    f = getattr(node, "func", None)
    return isinstance(node, ast.Call) and (getattr(f, "id", None) or getattr(f, "attr", None)) in _PREDICATES


def boolean_tests() -> list[str]:
    "Where a notebook tests a condition with `test_eq(<condition>, True)` (or False): a failure says only False != True."
    out = []
    for nb in notebooks():
        for i, c in enumerate(json.loads(nb.read_text())["cells"]):
            if c["cell_type"] != "code": continue
            try: tree = ast.parse("\n".join(l for l in _source(c).splitlines() if not l.lstrip().startswith(("%", "!"))))
            except SyntaxError: continue
            n = sum(1 for node in ast.walk(tree) if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "test_eq"
                    and len(node.args) == 2 and any(isinstance(a, ast.Constant) and isinstance(a.value, bool) for a in node.args)
                    and any(_is_condition(a) for a in node.args))
            if n: out.append(f"{nb.relative_to(NBS)} cell {i}: {n} test_eq(<condition>, True/False); assert the condition, showing the values")
    return out


def mixed_import_cells() -> list[str]:
    "Code cells that hold an import, at any depth, and other code besides (exported and `eval: false` cells aside)."
    out, is_import = [], lambda n: isinstance(n, (ast.Import, ast.ImportFrom))
    for nb in notebooks():
        for i, c in enumerate(json.loads(nb.read_text())["cells"]):
            src = _source(c)
            if c["cell_type"] != "code" or re.search(r"^#\|\s*(export[si]?\s*$|exec_doc|eval:\s*false)", src, re.M): continue
            try: tree = ast.parse("\n".join(l for l in src.splitlines() if not l.lstrip().startswith(("%", "!"))))
            except SyntaxError: continue
            if any(map(is_import, ast.walk(tree))) and not all(map(is_import, tree.body)):
                out.append(f"{nb.relative_to(NBS)} cell {i}: imports and other code in one cell (the docs build runs it alone)")
    return out


def long_modules() -> list[tuple[int, str]]:
    return [(n, str(p.relative_to(ROOT))) for p in sorted(PKG.rglob("*.py"))
            if p.name != "_modidx.py" and (n := len(p.read_text().splitlines())) > LIMITS["module_lines"]]


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(PKG).with_suffix("").parts)


def _is_module(name: str) -> bool:
    return (PKG / name.replace(".", "/")).with_suffix(".py").is_file()


def imports(path: Path) -> list[tuple[str, list[str]]]:
    "(module of the package, names taken from it) for every import in `path`, at any depth."
    here, out = _module_name(path).split("."), []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the package this module is in
                base = here[:-node.level] + ([node.module] if node.module else [])
                target = ".".join(base)
            elif node.module == "model_foundry" or (node.module or "").startswith("model_foundry."):
                target = node.module.removeprefix("model_foundry").removeprefix(".")
            else: continue
            names = [a.name for a in node.names]
            # `from model_foundry import trainer`, `from .training import rundir`: the names are modules
            out += [(f"{target}.{n}".lstrip("."), []) for n in names if _is_module(f"{target}.{n}".lstrip("."))]
            out.append((target, [n for n in names if not _is_module(f"{target}.{n}".lstrip("."))]))
        elif isinstance(node, ast.Import):
            out += [(a.name.removeprefix("model_foundry."), []) for a in node.names if a.name.startswith("model_foundry.")]
    return out


def import_problems() -> list[str]:
    "Private names imported across modules, and imports against the order of the chapters."
    order, out = chapters(), []
    for path in sorted(PKG.rglob("*.py")):
        name = _module_name(path)
        if name.endswith("__init__") or name == "_modidx": continue
        for target, names in imports(path):
            private = [n for n in names if n.startswith("_") and not n.endswith("__")]  # `__version__` is public
            if private and target != name: out.append(f"{name} imports private {', '.join(private)} from {target}")
            if target in FORBIDDEN.get(name, ()): out.append(f"{name} imports {target}, which it must not")
            if name in order and target in order and order[target][0] >= order[name][0]:
                out.append(f"{name} (chapter {order[name][0]:02}) imports {target} (chapter {order[target][0]:02}): "
                           f"a module imports only from the chapters before it")
    return out


def measure() -> dict:
    "Every measure, and the problems found."
    sizes = sorted(n for n, _ in export_cells())
    cells = dict(count=len(sizes), median=statistics.median(sizes), p90=sizes[int(0.9 * (len(sizes) - 1))],
                 max=sizes[-1], mean=round(statistics.mean(sizes), 1))
    problems = [f"export cells: median {cells['median']} lines (limit {LIMITS['median']})"] if cells["median"] > LIMITS["median"] else []
    if cells["p90"] > LIMITS["p90"]: problems.append(f"export cells: 90th percentile {cells['p90']} lines (limit {LIMITS['p90']})")
    problems += [f"{where}: an export cell of {n} lines (limit {LIMITS['cell']})" for n, where in export_cells() if n > LIMITS["cell"]]
    problems += [f"{where}: {n} words of markdown (limit {LIMITS['words']})" for n, where in long_markdown()]
    problems += output_problems()
    problems += [f"{where}: {n} lines (limit {LIMITS['module_lines']})" for n, where in long_modules()]
    problems += import_problems()
    problems += boolean_tests()
    problems += mixed_import_cells()
    modules = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in sorted(PKG.rglob("*.py"))
               if p.name != "_modidx.py"}
    return dict(cells=cells, modules=modules, problems=problems)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--verbose", action="store_true", help="also list the export cells, largest first")
    args = p.parse_args()
    m = measure()
    c = m["cells"]
    print(f"export cells: {c['count']}, mean {c['mean']} lines, median {c['median']}, 90th percentile {c['p90']}, "
          f"largest {c['max']}")
    print("modules (lines): " + ", ".join(f"{Path(k).stem if '/training/' not in k else 'training.' + Path(k).stem} "
                                          f"{v}" for k, v in m["modules"].items()))
    if args.verbose:
        for n, where in sorted(export_cells(), reverse=True)[:30]: print(f"  {n:4} {where}")
    for problem in m["problems"]: print(f"over a limit: {problem}")
    print("the book keeps its measures" if not m["problems"] else f"{len(m['problems'])} problem(s)")
    sys.exit(1 if m["problems"] else 0)


if __name__ == "__main__": main()
