"""Sphinx configuration for skmem's documentation."""

import skmem

project = "skmem"
author = "the skmem developers"
release = version = skmem.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
autosummary_generate = True
numpydoc_show_class_members = False
templates_path = []
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]

html_theme = "pydata_sphinx_theme"
html_title = "skmem"
# No intersphinx: CI has no network, and the build must pass with -W.

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "download_all_examples": False,
}
