"""Write README.md from nbs/index.ipynb (Quarto-free; `nbdev-readme` does the same where Quarto is installed).

Markdown cells are copied as they are, except that links to the site's pages (`config.html`) become links into
the documentation site (`Documentation` of pyproject.toml's `[project.urls]`), so they work where the README is
read on a code host; code cells that are not hidden are shown as Python with their text output; nbdev
directives are dropped. `python tools/readme.py --check` exits 1 when README.md is out of date.
"""
import json
import re
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
FOOTER = "<!-- Generated from nbs/index.ipynb by `make readme`: edit the notebook, not this file. -->\n"


def cell_source(cell) -> str:
    src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    return src.strip("\n")


def docs_url() -> str:
    "The documentation site's address, ending in `/`."
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Documentation"].rstrip("/") + "/"


def site_links(markdown: str, site: str) -> str:
    "Relative links to the site's pages (`](config.html#x)`) made absolute, into `site`."
    return re.sub(r"\]\((?![a-z]+:)([\w./-]+\.html(?:#[\w-]*)?)\)", lambda m: f"]({site}{m[1]})", markdown)


def render(nb: dict) -> str:
    parts, site = [], docs_url()
    for cell in nb["cells"]:
        src = cell_source(cell)
        if cell["cell_type"] == "markdown":
            parts.append(site_links(src, site))
            continue
        if cell["cell_type"] != "code": continue
        lines = src.splitlines()
        directives = [l for l in lines if l.startswith("#|")]
        if any(d.split()[1:2] in (["hide"], ["hide_input"]) for d in directives): continue
        code = "\n".join(l for l in lines if not l.startswith("#|")).strip("\n")
        if code: parts.append(f"```python\n{code}\n```")
        text = "".join("".join(o.get("text", "")) or "".join(o.get("data", {}).get("text/plain", ""))
                       for o in cell.get("outputs", []))
        if text.strip(): parts.append(f"```\n{text.rstrip()}\n```")
    return "\n\n".join(parts) + "\n\n" + FOOTER


def main(argv=sys.argv[1:]) -> int:
    text = render(json.loads((ROOT / "nbs" / "index.ipynb").read_text(encoding="utf-8")))
    readme = ROOT / "README.md"
    if "--check" in argv:
        if readme.exists() and readme.read_text(encoding="utf-8") == text: return 0
        print("README.md is not what nbs/index.ipynb generates: run `make readme` and commit it", file=sys.stderr)
        return 1
    readme.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__": sys.exit(main())
