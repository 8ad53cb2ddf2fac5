"""Sphinx settings for the documentation site built without Quarto (tools/docs.py stages the pages)."""
from pathlib import Path

from nbdev.config import get_config

_cfg = get_config(Path(__file__).resolve().parents[2])

project = _cfg.title
html_title = _cfg.title
copyright = "Model Foundry developers"

extensions = ["myst_nb", "sphinx.ext.githubpages", "sphinx_copybutton"]  # githubpages: .nojekyll, so Pages serves _static/
nb_execution_mode = "off"  # the notebooks' saved outputs are the documentation
nb_merge_streams = True
nb_ipywidgets_js = {}  # no notebook uses widgets; nothing is loaded from elsewhere
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence", "deflist"]

# each documented name is a Python object of Sphinx's (tools/docs.py): its signature without the module (the page says
# it), one parameter a line when it is longer than a line
add_module_names = False
python_maximum_signature_line_length = 88

smartquotes = False  # `--allow-config-change` stays two hyphens, quotes stay as typed

html_theme = "furo"
html_static_path = ["_static"]
html_css_files = ["model-foundry.css"]  # long lines wrap; the source links under each title
copybutton_exclude = ".linenos, .gp, .go"  # the copy button copies the code, not prompts or outputs

html_copy_source = False
html_show_sourcelink = False
html_show_sphinx = False
exclude_patterns = ["**.ipynb_checkpoints"]
