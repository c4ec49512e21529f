"""The built site: no script, style sheet or font from another site (MathJax bundled), and
repository/launch buttons exactly when ``REPO_URL`` is set (``make book REPO_URL=...``).

The whole book is built once without a repository (as ``make book`` does, but without executing
the notebooks: nbval runs them in the same ``make test``); the buttons are checked on a two-page book built with the same ``_config.yml`` and extensions, to keep CI short.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPO = "https://github.com/example-owner/fairkl"
# A script, style sheet, preloaded font or image taken from another host (absolute or protocol-relative URL).
EXTERNAL = re.compile(r"<(?:script|link|img)\b[^>]*\b(?:src|href)=\"(?:https?:)?//[^\"]*\"[^>]*>", re.I)
# The theme's repository/issue buttons (sphinx-book-theme's header buttons).
REPO_BUTTONS = re.compile(r"btn-source-(?:repository|issues|edit)-button")
LINK_REL = re.compile(r"\brel=\"(?:stylesheet|preload|modulepreload|icon|prefetch)\"", re.I)


def _build(source: Path, out: Path, repo_url: str = "") -> Path:
    # Pages are not executed here (book/_ext/execution_switch.py): nbval executes and checks
    # every notebook in the same `make test`, and the checks below only read the HTML.
    env = dict(os.environ, FAIRKL_REPO_URL=repo_url, PYTHONPATH=str(ROOT), FAIRKL_BOOK_EXECUTE="off")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run([str(jupyter_book), "build", str(source), "--path-output", str(out), "-W", "-n",
                             "--keep-going"], env=env, capture_output=True, text=True, timeout=1200)  # fmt: skip
    log = result.stdout + result.stderr
    (out / "build.log").write_text(log)
    errors = [line for line in log.splitlines() if re.search(r"(Error|WARNING|Timeout)\b", line)]
    assert result.returncode == 0, "\n".join(errors[:40]) + f"\nfull log: {out / 'build.log'}"
    return out / "_build" / "html"


def _external_resources(html: str) -> list[str]:
    tags = EXTERNAL.findall(html)
    return [t for t in tags if not t.lower().startswith("<link") or LINK_REL.search(t)]


@pytest.fixture(scope="module")
def full_site(tmp_path_factory):
    return _build(ROOT, tmp_path_factory.mktemp("book"))


@pytest.fixture(scope="module")
def tiny_site_with_repo(tmp_path_factory):
    src = tmp_path_factory.mktemp("tiny")
    shutil.copy(ROOT / "_config.yml", src / "_config.yml")
    shutil.copytree(ROOT / "book" / "_ext", src / "book" / "_ext")
    shutil.copytree(ROOT / "book" / "_inv", src / "book" / "_inv")  # local intersphinx inventories
    shutil.copy(ROOT / "book" / "references.bib", src / "book" / "references.bib")
    (src / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/page\n")
    (src / "book" / "intro.md").write_text("# Tiny\n\nA formula: $a^2 + b^2$.\n")
    (src / "book" / "page.py").write_text(
        "# ---\n# jupyter:\n#   kernelspec:\n#     display_name: Python 3\n#     language: python\n"
        "#     name: python3\n# ---\n\n# %% [markdown]\n# # A page\n#\n# $$x^2$$\n\n# %%\nimport fairkl\n"
    )  # fmt: skip
    return _build(src, tmp_path_factory.mktemp("tiny_out"), REPO)


@pytest.mark.slow
def test_site_loads_nothing_from_another_host(full_site):
    pages = sorted(full_site.rglob("*.html"))
    assert len(pages) >= 9
    offenders = {p.name: _external_resources(p.read_text()) for p in pages}
    assert not any(offenders.values()), {k: v for k, v in offenders.items() if v}


@pytest.mark.slow
def test_math_is_rendered_by_the_bundled_mathjax(full_site):
    intro = (full_site / "book" / "intro.html").read_text()
    sources = re.findall(r"<script[^>]*src=\"([^\"]*mathjax[^\"]*)\"", intro, flags=re.I)
    assert sources and all(not s.startswith(("http", "//")) for s in sources), sources
    assert (full_site / "book" / sources[0].split("?")[0]).resolve().is_file()
    assert (full_site / "_static" / "mathjax" / "output" / "chtml" / "fonts").is_dir()


@pytest.mark.slow
def test_without_repo_url_there_are_no_repository_or_launch_buttons(full_site):
    for page in ("intro", "installation", "part3_fairkl_api", "case_study_crime"):
        html = (full_site / "book" / f"{page}.html").read_text()
        assert "mybinder.org" not in html and "colab.research.google.com" not in html
        # No repository or issue button, no launch menu (links in the prose, such as the one to the
        # earlier public series, are fine).
        assert not REPO_BUTTONS.search(html) and "/issues/new" not in html
        assert "dropdown-launch-buttons" not in html
    # Downloads of the notebooks are still offered.
    assert (full_site / "_sources" / "book" / "part3_fairkl_api.ipynb").is_file()


@pytest.mark.slow
def test_with_repo_url_every_button_points_at_that_repository(tiny_site_with_repo):
    page = (tiny_site_with_repo / "book" / "page.html").read_text()
    assert f'href="{REPO}"' in page and REPO_BUTTONS.search(page)  # repository button
    assert f"{REPO}/issues/new?title=" in page and "dropdown-launch-buttons" in page
    assert "https://mybinder.org/v2/gh/example-owner/fairkl/main?urlpath=lab/tree/book/page.py" in page
    # Colab opens only .ipynb files on GitHub: the executed notebook on the notebooks branch.
    assert "https://colab.research.google.com/github/example-owner/fairkl/blob/notebooks/book/page.ipynb" in page
    assert "blob/main/book/page.py" not in page
    assert not _external_resources(page)
    intro = (tiny_site_with_repo / "book" / "intro.html").read_text()
    assert f'href="{REPO}"' in intro and "mybinder.org" not in intro  # not a notebook: no launch buttons


@pytest.mark.book
def test_repo_url_must_be_a_github_repository(monkeypatch):
    from sphinx.errors import ConfigError

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        import repository_buttons
    finally:
        sys.path.pop(0)

    class Config:
        html_theme_options = {"launch_buttons": {"notebook_interface": "jupyterlab"}}

    monkeypatch.setenv("FAIRKL_REPO_URL", "gitlab.com/owner/fairkl")
    with pytest.raises(ConfigError, match=r"must look like https://github.com/OWNER/REPO, got 'gitlab.com"):
        repository_buttons._configure(None, Config())
    monkeypatch.setenv("FAIRKL_REPO_URL", "https://github.com/o/r/")
    config = Config()
    repository_buttons._configure(None, config)
    assert config.html_theme_options["repository_url"] == "https://github.com/o/r"
    assert config.html_theme_options["launch_buttons"]["notebook_interface"] == "jupyterlab"
    monkeypatch.setenv("FAIRKL_REPO_URL", "")
    untouched = Config()
    repository_buttons._configure(None, untouched)
    assert "repository_url" not in untouched.html_theme_options
