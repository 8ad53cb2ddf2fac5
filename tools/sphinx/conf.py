"""Sphinx settings for the documentation site built without Quarto (tools/docs.py stages the pages)."""
from pathlib import Path

from nbdev.config import get_config

_cfg = get_config(Path(__file__).resolve().parents[2])

project = _cfg.title
html_title = _cfg.title
copyright = "Model Foundry developers"

extensions = ["myst_nb", "sphinx.ext.githubpages"]  # githubpages: .nojekyll, so Pages serves _static/
nb_execution_mode = "off"  # the notebooks' saved outputs are the documentation
nb_merge_streams = True
nb_ipywidgets_js = {}  # no notebook uses widgets; nothing is loaded from elsewhere
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence", "deflist"]

html_theme = "furo"

html_copy_source = False
html_show_sourcelink = False
html_show_sphinx = False
exclude_patterns = ["**.ipynb_checkpoints"]
