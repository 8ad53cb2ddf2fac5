"""Run notebooks and save their outputs, the way the book keeps them (`make outputs NB=nbs/03_data.ipynb`).

    .venv/bin/python tools/outputs.py nbs/00_helpers.ipynb [more notebooks]   # every cell, `slow` ones included
    .venv/bin/python tools/outputs.py --skip slow nbs/tutorials/quickstart.ipynb  # keep the saved outputs of slow cells

Each notebook runs in its own folder, top to bottom, in a fresh process, with figures at 1x resolution (PNG at the
figure's own dpi; `nbdev-test` and execnb default to twice that, which makes notebooks large). Cells flagged with a
flag given to `--skip` are not run: they keep the outputs they have. The notebook is written only if every cell ran,
and then cleaned with `nbdev-clean`. A cell that fails stops the run and prints its traceback.
"""
import argparse
import re
import subprocess
import sys
from pathlib import Path

from execnb.shell import CaptureShell
from fastcore.nbio import read_nb, write_nb
from fastcore.xtras import working_directory

ROOT = Path(__file__).resolve().parents[1]


def flags(source: str) -> set[str]:
    "The words of a cell's leading `#|` directives (`#| slow` gives {'slow'})."
    out = set()
    for line in source.splitlines():
        if not line.startswith("#|"): break
        out.update(line[2:].split())
    return out


def run(nb_path: Path, skip: list[str]) -> bool:
    "Run `nb_path` and save its outputs; False (and nothing written) if a cell failed."
    nb = read_nb(nb_path)
    shell = CaptureShell(nb_path, mpl_format="png")

    def skipped(cell) -> bool:  # as nbdev-test skips them: cells flagged to skip, and `#| eval: false` cells
        return cell.cell_type == "code" and (bool(set(skip) & flags(cell.source)) or
                                             re.search(r"^#\|\s*eval:\s*false", cell.source, re.M) is not None)

    with working_directory(nb_path.parent):
        try: shell.run_all(nb, exc_stop=True, preproc=skipped)
        except Exception:
            sys.stderr.write((shell.prettytb(fname=nb_path) or "") + "\n")
            return False
    write_nb(nb, nb_path)
    subprocess.run([str(Path(sys.executable).parent / "nbdev-clean"), "--fname", str(nb_path)], check=True, cwd=ROOT)
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("notebooks", nargs="+", type=Path, help="notebooks to run")
    p.add_argument("--skip", action="append", default=[], metavar="FLAG",
                   help="do not run cells with this flag (e.g. slow); they keep their saved outputs")
    p.add_argument("--here", action="store_true", help=argparse.SUPPRESS)  # run in this process (one notebook)
    args = p.parse_args()
    if args.here: sys.exit(0 if run(args.notebooks[0].resolve(), args.skip) else 1)
    skips = [a for f in args.skip for a in ("--skip", f)]
    # each notebook in a fresh process, as nbdev-test runs them: what one leaves behind (logging set up, say) is not
    # the next one's
    failed = [nb for nb in args.notebooks
              if subprocess.run([sys.executable, __file__, "--here", *skips, str(nb)]).returncode != 0]
    for nb in args.notebooks: print(f"{nb}: {'FAILED (not written)' if nb in failed else 'outputs saved'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__": main()
