"""Repository, issue and launch buttons from one setting, the ``FAIRKL_REPO_URL`` environment variable.

``make book REPO_URL=https://github.com/OWNER/fairkl`` (or the Pages workflow, with the
repository it runs in) sets it; unset or empty, the site has none of these buttons and
links nowhere. Set, every page gets a repository and an issue button, and every
notebook page Binder and Colab launch buttons:

* Binder builds the environment from ``binder/`` (fairkl with its data, JupyterLab and
  jupytext, which opens the py:percent pages as notebooks).
* Colab opens only ``.ipynb`` files stored in a GitHub repository, and the pages are
  ``.py`` files; the Colab button therefore points at ``book/<page>.ipynb`` on the
  ``notebooks`` branch, where the Pages workflow publishes the executed notebooks.
"""

from __future__ import annotations

import os
import re

from sphinx.errors import ConfigError

ENV_URL = "FAIRKL_REPO_URL"
ENV_BRANCH = "FAIRKL_REPO_BRANCH"  # the branch the repository and Binder buttons use; default "main"
NOTEBOOKS_BRANCH = "notebooks"
_GITHUB = re.compile(r"^https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def _configure(app, config):
    url = os.environ.get(ENV_URL, "").strip().removesuffix("/").removesuffix(".git")
    if not url:
        return
    if not _GITHUB.match(url):
        raise ConfigError(
            f"{ENV_URL} (make's REPO_URL) must look like https://github.com/OWNER/REPO, got {url!r}: "
            "Binder's and Colab's launch links exist for GitHub repositories only."
        )
    options = dict(config.html_theme_options)
    options.update(
        repository_url=url,
        repository_branch=os.environ.get(ENV_BRANCH, "").strip() or "main",
        path_to_docs="",
        use_repository_button=True,
        use_issues_button=True,
        launch_buttons={
            **options.get("launch_buttons", {}),
            "binderhub_url": "https://mybinder.org",
            "colab_url": "https://colab.research.google.com",
        },
    )
    config.html_theme_options = options


def _colab_opens_the_published_notebook(app, pagename, templatename, context, doctree):
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group.get("buttons", []):
            if button.get("text") == "Colab" and not button["url"].endswith(".ipynb"):
                github = button["url"].split("/blob/")[0]
                button["url"] = f"{github}/blob/{NOTEBOOKS_BRANCH}/{pagename}.ipynb"


def setup(app):
    app.connect("config-inited", _configure)
    # After sphinx-book-theme has built its launch buttons (priority 501).
    app.connect("html-page-context", _colab_opens_the_published_notebook, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
