"""The documentation site that `make docs` wrote into docs/, opened in headless Chromium as a reader would.

Every page loads without console errors, page errors or failed requests, and fetches nothing from elsewhere; every
image loads; every public name of a module (its `__all__`) is on the page of the notebook it is exported from,
functions and classes as a heading with their signature (a class as a class) and a table of their parameters (the
fields of dataclasses, NamedTuples and config models), other names somewhere on the page; names in backticks link
to their entries, and the general index lists every public function and class; search finds a name; every page
links its source and the issue tracker; code blocks have a copy button and wrap; the install page gives pip and
the PyTorch builds. Screenshots of the home page and a tutorial are saved in test-artifacts/.

These tests read the site built by `make docs` and are deselected from `make test`; `make docs-check` builds the
site and runs them (`pytest -m docs`). Chromium is Debian's `chromium` package (installed here when running as root
without it), driven by Playwright's Python package.
"""
import ast
import functools
import http.server
import importlib
import io
import os
import re
import shutil
import subprocess
import tempfile
import threading
import tokenize
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE, NBS, ARTIFACTS = ROOT / "docs", ROOT / "nbs", ROOT / "test-artifacts"
# Chromium as root in a container: no sandbox, no GPU, and none of its own background connections.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.docs


# ------------------------------------------------------------------ what the site must show (read from the sources)

# every notebook of the book (relative to nbs/), and {module: notebook} for those with a `#| default_exp` line
NOTEBOOKS = sorted(p.relative_to(NBS) for p in NBS.rglob("*.ipynb")
                   if not any(q.startswith((".", "_")) for q in p.relative_to(NBS).parts[:-1]))


def _exported_modules() -> dict:
    found = {}
    for nb in NOTEBOOKS:
        m = re.search(r'#\|\s*default_exp\s+([\w.]+)', (NBS / nb).read_text(encoding="utf-8"))
        if m: found[m[1]] = nb
    return found


MODULES = _exported_modules()


def public_names(module: str) -> tuple[list, list]:
    "The module's `__all__`, split into functions and classes, and the other names (constants, loggers, aliases)."
    path = ROOT / "model_foundry" / (module.replace(".", "/") + ".py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = next(ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                 and any(getattr(t, "id", None) == "__all__" for t in n.targets))
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    return [n for n in names if n in defined], [n for n in names if n not in defined]


def page_of(notebook: Path) -> str:
    "The page nbdev names for a notebook (`00_config.ipynb` is `config.html`), on either build path."
    from nbdev.config import nbpath2html
    return nbpath2html(notebook).as_posix()


# ------------------------------------------------------------------ serving the site and opening it in Chromium

def find_chromium() -> str:
    "Debian's Chromium; installed with apt-get when running as root without it; else the test skips."
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if (path := shutil.which(name)): return path
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
        r = subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env, capture_output=True, text=True)
        if (path := shutil.which("chromium")): return path
        pytest.skip(f"no Chromium, and `apt-get install chromium` failed: {r.stderr.strip()[-300:]}")
    pytest.skip("no Chromium: install Debian's `chromium` package (or run as root, which installs it)")


@pytest.fixture(scope="module")
def site():
    "The built site, served over http on localhost for the duration of the tests."
    if not (SITE / "index.html").exists():
        pytest.fail("docs/index.html does not exist: build the site with `make docs` (`make docs-check` does both)")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(SITE)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError: pytest.fail("Playwright is not installed: `pip install -e '.[docs]'` (the Makefile does)")
    executable = find_chromium()
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        # a persistent context is the way to give Chromium its own new, empty --user-data-dir
        context = pw.chromium.launch_persistent_context(profile, executable_path=executable, headless=True,
                                                        args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
        yield context
        context.close()


class Visit:
    "One page load with everything that went wrong on the way: console errors, page errors, failed requests."
    def __init__(self, context, site: str, path: str):
        self.page, self.problems, origin = context.new_page(), [], urlsplit(site).netloc
        def on_request(req):
            if urlsplit(req.url).scheme in ("http", "https") and urlsplit(req.url).netloc != origin:
                self.problems.append(f"fetches from elsewhere: {req.url}")
        def on_response(res):
            if urlsplit(res.url).netloc == origin and res.status >= 400:
                self.problems.append(f"HTTP {res.status}: {res.url}")
        def on_console(m):
            # Chromium asks every site for /favicon.ico on its own; the site does not link one
            if m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico"):
                self.problems.append(f"console error: {m.text} ({m.location.get('url')})")
        self.page.on("console", on_console)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} ({r.failure})"))
        self.page.on("request", on_request)
        self.page.on("response", on_response)
        self.page.goto(site + path, wait_until="load")
        self.page.wait_for_load_state("networkidle")
        self.images = self.page.evaluate("""async () => {
            const imgs = [...document.images];
            await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
            return imgs.map(i => ({src: i.currentSrc || i.src, width: i.naturalWidth}));
        }""")


@pytest.fixture(scope="module")
def visits(site, browser):
    "Every page of the site, loaded once."
    pages = sorted(p.relative_to(SITE).as_posix() for p in SITE.rglob("*.html"))
    loaded = {p: Visit(browser, site, p) for p in pages}
    yield loaded
    for v in loaded.values(): v.page.close()


# ------------------------------------------------------------------ the checks

def test_every_page_loads_cleanly(visits):
    assert len(visits) > len(MODULES), f"too few pages: {sorted(visits)}"
    problems = {p: v.problems for p, v in visits.items() if v.problems}
    assert not problems, f"pages with errors: {problems}"


def test_every_notebook_has_a_page_in_the_navigation_in_sidebar_order(visits):
    import yaml
    pages = {page_of(nb): nb for nb in NOTEBOOKS}
    assert not set(pages) - set(visits), f"notebooks without a page: {[pages[p] for p in set(pages) - set(visits)]}"
    nav = visits["index.html"].page.eval_on_selector_all(
        ".sidebar-tree a, #quarto-sidebar a", "as => as.map(a => a.getAttribute('href'))")
    nav = list(dict.fromkeys(Path(h.split("#")[0]).as_posix() for h in nav if h.split("#")[0].endswith(".html")))
    assert set(pages) - {"index.html"} <= set(nav), f"pages missing from the navigation: {set(pages) - set(nav)}"
    def listed(contents):
        for item in contents:
            if isinstance(item, str): yield page_of(Path(item))
            elif isinstance(item, dict): yield from listed(item.get("contents", []))
    order = [p for p in listed(yaml.safe_load((NBS / "sidebar.yml").read_text())["website"]["sidebar"]["contents"])
             if p in nav]
    assert [p for p in nav if p in order] == order, "the navigation is not in the order of nbs/sidebar.yml"


def test_every_image_loads(visits):
    images = [(p, i) for p, v in visits.items() for i in v.images]
    broken = [(p, i["src"]) for p, i in images if i["width"] == 0]
    assert not broken, f"images that did not load: {broken}"
    assert images, "the site shows no images; the tutorials' and plots' saved figures should be there"


def _entries(page) -> dict:
    """{heading text: (the signature of the first documented object of its section, {parameter: text of its row} of
    that object's parameter table)} for every heading of a page; where
    headings repeat (a section `Trainer` above the entry `Trainer`), the one whose signature names it."""
    found = {}
    for name, code, rows in page.evaluate("""() => [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => {
        const name = [...h.childNodes].filter(n => !(n.classList && (n.classList.contains('headerlink') ||
                                                                     n.classList.contains('anchorjs-link'))))
                                      .map(n => n.textContent).join('').trim();
        const section = h.closest('section');
        const entry = section ? section.querySelector('dl.py') : null;
        if (!entry) return [name, '', []];
        const sig = entry.querySelector(':scope > dt');
        const table = entry.querySelector(':scope > dd table');
        const rows = table ? [...table.tBodies[0].rows].map(r => [r.cells[0].textContent.trim(), r.textContent]) : [];
        return [name, sig.textContent.replace(/\\u00b6/g, ''), rows];
    })"""):
        if name not in found or re.search(rf"\b{re.escape(name.rpartition('.')[2])}\(", code):
            found[name] = (code, dict(rows))
    return found


def _sections(page) -> dict:
    "{heading text: the signature under it} (see `_entries`)."
    return {name: code for name, (code, _) in _entries(page).items()}


def _field_docs(module: str) -> dict:
    """{class: {field: comment}} for the public classes whose parameters are their annotated fields (dataclasses,
    NamedTuples, pydantic models: no `__init__` of their own), read from the module's source."""
    path = ROOT / "model_foundry" / (module.replace(".", "/") + ".py")
    source = path.read_text(encoding="utf-8")
    comments = {t.start[0]: t.string.lstrip("# ").strip() for t in
                tokenize.generate_tokens(io.StringIO(source).readline) if t.type == tokenize.COMMENT}
    callables, _ = public_names(module)
    classes = {n.name: n for n in ast.parse(source).body if isinstance(n, ast.ClassDef)}

    def fields(node) -> dict:  # its own fields, and those of its bases in the module (groups of fields of a model)
        inherited = [fields(classes[b.id]) for b in node.bases if isinstance(b, ast.Name) and b.id in classes]
        own = {b.target.id: comments.get(b.lineno) for b in node.body
               if isinstance(b, ast.AnnAssign) and isinstance(b.target, ast.Name)}
        return {k: v for d in [*inherited, own] for k, v in d.items()}

    found = {}
    for name, node in classes.items():
        if name not in callables: continue
        if any(isinstance(b, ast.FunctionDef) and b.name == "__init__" for b in node.body): continue
        if (documented := {k: v for k, v in fields(node).items() if v}): found[name] = documented
    return found


def _plain(text: str) -> str:
    "Text as the page shows it, to compare with a source comment: code spans without backticks, quotes straight."
    return " ".join(re.sub("[‘’]", "'", re.sub("[“”]", '"', text.replace("`", ""))).split())


def _module_page(module, visits):
    page = page_of(MODULES[module])
    assert page in visits, f"{module} is exported from nbs/{MODULES[module]}, but the site has no {page}"
    return page, visits[page].page


@pytest.mark.parametrize("module", sorted(MODULES))
def test_public_functions_and_classes_have_a_heading_signature_and_a_parameter_table(module, visits):
    from fastcore.docments import docments
    page, view = _module_page(module, visits)
    entries, (callables, _) = _entries(view), public_names(module)
    mod, fields = importlib.import_module(f"model_foundry.{module}"), _field_docs(module)
    missing, no_signature, no_docs = [], [], []
    for name in callables:
        if name not in entries: missing.append(name); continue
        signature, rows = entries[name]
        if not re.search(rf"\b{re.escape(name)}(\(|\s*$)", signature): no_signature.append(name); continue  # `class Metric`: none
        if name in fields: continue  # their parameters are fields: the next test
        documented = {p: d for p, d in docments(getattr(mod, name)).items() if d and p != "return"}
        no_docs += [f"{name}({p}: {d})" for p, d in documented.items()
                    if _plain(d) not in _plain(rows.get(p) or rows.get(f"*{p}") or rows.get(f"**{p}") or "")]
    assert not missing, f"{page}: no heading for {missing}"
    assert not no_signature, f"{page}: no signature under the heading of {no_signature}"
    assert not no_docs, f"{page}: parameter docs missing from the rows of their parameters: {no_docs}"
    headers = view.evaluate("[...document.querySelectorAll('dl.py > dd table thead tr')]"
                            ".map(r => [...r.cells].map(c => c.textContent.trim()).join('|'))")
    assert headers and set(headers) == {"Parameter|Type|Default|Details"}, f"{page}: parameter tables {set(headers)}"


def _classes(module: str) -> list:
    path = ROOT / "model_foundry" / (module.replace(".", "/") + ".py")
    callables, _ = public_names(module)
    return [n.name for n in ast.parse(path.read_text(encoding="utf-8")).body
            if isinstance(n, ast.ClassDef) and n.name in callables]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_classes_are_shown_as_classes(module, visits):
    page, view = _module_page(module, visits)
    entries = _entries(view)
    wrong = {n: entries[n][0][:60] for n in _classes(module) if n in entries and entries[n][0].split()[:1] != ["class"]}
    assert not wrong, f"{page}: classes whose signature does not say `class`: {wrong}"
    assert all(not re.match(r"\s*def\b", code) for code, _ in entries.values())


def test_names_in_backticks_link_to_their_entries(visits):
    links = {p: v.page.eval_on_selector_all("article a.reference.internal:has(> code.xref)",
                                            "as => as.map(a => [a.textContent, a.href])") for p, v in visits.items()}
    assert sum(map(len, links.values())) > 100, "few names in backticks link to their entries"
    ids = {p: set(v.page.eval_on_selector_all("[id]", "es => es.map(e => e.id)")) for p, v in visits.items()}
    broken = []
    for page, found in links.items():
        for text, href in found:
            target, anchor = urlsplit(href).path.lstrip("/"), urlsplit(href).fragment
            if anchor not in ids.get(target, set()): broken.append((page, text, href))
    assert not broken, f"cross-links to no entry: {broken[:10]}"
    assert ("Trainer.check", "trainer.html#model_foundry.trainer.Trainer.check") in [
        (t, urlsplit(h).path.lstrip("/") + "#" + urlsplit(h).fragment) for t, h in links["validation.html"]]


def test_the_general_index_lists_every_public_function_and_class(visits):
    assert "genindex.html" in visits, "the site has no general index"
    listed = {urlsplit(h).path.lstrip("/") + "#" + urlsplit(h).fragment for h in visits["genindex.html"].page
              .eval_on_selector_all("article a", "as => as.map(a => a.href)")}
    missing = [f"model_foundry.{m}.{n}" for m in MODULES for n in public_names(m)[0]
               if f"{page_of(MODULES[m])}#model_foundry.{m}.{n}" not in listed]
    assert not missing, f"names missing from the general index: {missing}"
    nav = visits["index.html"].page.eval_on_selector_all(".sidebar-tree a", "as => as.map(a => a.getAttribute('href'))")
    assert "genindex.html" in nav, nav


# nbdev's show_doc cannot read the source of a class defined in a notebook cell (nor shows a pydantic model's fields):
# tools/docs.py lists the fields, read from the package, under the class's heading.
@pytest.mark.parametrize("module", sorted(MODULES))
def test_field_docs_of_dataclasses_and_config_models_are_shown(module, visits):
    page, view = _module_page(module, visits)
    entries = _entries(view)
    shown = lambda cls, f: re.sub("[‘’]", "'", entries.get(cls, ("", {}))[1].get(f, ""))  # Sphinx's smart quotes
    missing = [f"{cls}.{f}: {d}" for cls, docs in _field_docs(module).items() for f, d in docs.items()
               if d.replace("`", "") not in shown(cls, f)]  # code spans lose their backticks
    assert not missing, f"{page}: field docs not in the row of their field under their class: {missing}"


# Constants, loggers and type aliases have no signature, and nbdev does not show the code of `#| export` cells:
# such a name is on its page only where the prose, an example or an `#| exports` cell shows it.
@pytest.mark.parametrize("module", sorted(MODULES))
def test_public_constants_appear_on_their_page(module, visits):
    page, view = _module_page(module, visits)
    text = view.inner_text("article") if view.locator("article").count() else view.inner_text("body")
    _, others = public_names(module)
    absent = [n for n in others if not re.search(rf"\b{re.escape(n)}\b", text)]
    assert not absent, f"{page}: these public names appear nowhere on the page: {absent}"


@pytest.mark.skipif(not (SITE / "search.html").exists(), reason="the Quarto site's search is a popup, not a page")
def test_search_finds_a_public_name(site, browser):
    page = browser.new_page()
    page.goto(site + "search.html?q=CheckpointManager")
    results = page.locator("#search-results ul li a")
    results.first.wait_for(timeout=15_000)
    assert any("checkpointing.html" in (a or "") for a in results.evaluate_all("as => as.map(a => a.href)"))
    page.close()


def test_screenshots_of_the_home_page_and_a_tutorial(visits):
    ARTIFACTS.mkdir(exist_ok=True)
    home = ARTIFACTS / "docs-home.png"
    visits["index.html"].page.screenshot(path=home)
    tutorials = sorted(p for p in visits if p.startswith("tutorials/"))
    assert tutorials, "the site has no tutorials"
    tutorial = visits[tutorials[0]].page
    figures = tutorial.locator("img")
    if figures.count(): figures.first.scroll_into_view_if_needed()  # a plot in the picture
    shot = ARTIFACTS / "docs-tutorial.png"
    tutorial.screenshot(path=shot)
    assert home.stat().st_size and shot.stat().st_size
    print(f"screenshots: {home} {shot}")


def _repository() -> str:
    import tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"].rstrip("/")


def test_every_page_links_its_source_and_the_issue_tracker(visits):
    repo, module_of = _repository(), {nb: m for m, nb in MODULES.items()}
    for nb in NOTEBOOKS:
        hrefs = visits[page_of(nb)].page.eval_on_selector_all(".source-links a", "as => as.map(a => a.href)")
        assert f"{repo}/blob/main/nbs/{nb.as_posix()}" in hrefs, (nb, hrefs)
        assert f"{repo}/issues/new" in hrefs, (nb, hrefs)
        if nb in module_of:
            assert f"{repo}/blob/main/model_foundry/{module_of[nb].replace('.', '/')}.py" in hrefs, (nb, hrefs)


def test_code_blocks_have_a_copy_button_and_long_lines_wrap(visits):
    for nb in (Path("02_config.ipynb"), Path("tutorials/quickstart.ipynb")):
        page = visits[page_of(nb)].page
        blocks = page.locator("article div.highlight").count()
        assert blocks > 0 and page.locator("article div.highlight button.copybtn").count() == blocks, nb
        assert page.evaluate("getComputedStyle(document.querySelector('article pre')).whiteSpace") == "pre-wrap"
        sideways = page.evaluate("[...document.querySelectorAll('article pre')]"
                                 ".filter(p => p.scrollWidth > p.clientWidth + 1).length")
        assert sideways == 0, f"{nb}: {sideways} code block(s) scroll sideways"


def test_the_install_page_gives_pip_from_the_repository_and_the_torch_builds(visits):
    text = visits["install.html"].page.inner_text("article")
    assert f'pip install "model-foundry @ git+{_repository()}"' in text, text[:2000]
    for build in ("https://download.pytorch.org/whl/cpu", "https://download.pytorch.org/whl/cu126"): assert build in text
    nav = visits["index.html"].page.eval_on_selector_all(".sidebar-tree a", "as => as.map(a => a.getAttribute('href'))")
    assert "install.html" in nav, nav


TEMPORARY = re.compile(r"/tmp/\S*|/var/folders/\S*|\btmp[a-z0-9_]{8}\b|pytest-of-\S*")


def test_no_page_shows_a_temporary_path(visits):
    "The saved outputs were made in scratch folders; the pages show them as the folder a reader would use."
    shown = {p: sorted(set(TEMPORARY.findall(v.page.inner_text("body")))) for p, v in visits.items()}
    assert not {p: found for p, found in shown.items() if found}
