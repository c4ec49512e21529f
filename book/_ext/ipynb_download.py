"""Offer the executed notebook of every py:percent page as a download.

sphinx-book-theme shows an ".ipynb" download only when ``ipynb_source`` is in
the page context, which MyST-NB sets for .md notebooks but not for .py ones.
This extension sets it for pages whose executed notebook MyST-NB wrote to
``<build>/jupyter_execute/`` and copies those notebooks next to the sources.

With ``execute_notebooks: cache``, MyST-NB writes a page served from
jupyter-cache to ``jupyter_execute/`` without its outputs (it renders the
cached outputs but saves the notebook as read); those are merged back from
the cache here, so every download carries its outputs.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def _executed(app) -> Path:
    return Path(app.outdir).parent / "jupyter_execute"


def _add_to_context(app, pagename, templatename, context, doctree):
    if context.get("page_source_suffix") == ".py" and (_executed(app) / f"{pagename}.ipynb").exists():
        context["ipynb_source"] = f"{pagename}.ipynb"


def _with_cached_outputs(app, notebook: Path, target: Path) -> bool:
    """Write ``notebook`` with the outputs jupyter-cache holds for it to ``target``; False if it holds none."""
    if app.config.nb_execution_mode != "cache":
        return False
    import nbformat
    from jupyter_cache import get_cache

    nb = nbformat.read(notebook, as_version=4)
    if any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"):
        return False  # executed in this build: written with its outputs
    try:
        _, merged = get_cache(app.env.mystnb_config.execution_cache_path).merge_match_into_notebook(nb)
    except KeyError:
        return False
    nbformat.write(merged, target)
    return True


def _copy_notebooks(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    for notebook in _executed(app).rglob("*.ipynb"):
        target = Path(app.outdir) / "_sources" / notebook.relative_to(_executed(app))
        target.parent.mkdir(parents=True, exist_ok=True)
        if not _with_cached_outputs(app, notebook, target):
            shutil.copyfile(notebook, target)


def setup(app):
    # Before sphinx-book-theme builds its header buttons (priority 500).
    app.connect("html-page-context", _add_to_context, priority=400)
    app.connect("build-finished", _copy_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
