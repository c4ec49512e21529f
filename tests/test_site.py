"""The built site: no script, style sheet or font from another site (MathJax bundled),
repository/launch buttons exactly when ``REPO_URL`` is set (``make book REPO_URL=...``), and
the package with it (book/_ext/site_downloads.py): this version's wheel and sdist and a zip of
every page, linked from Installation and from every notebook page, enough to install fairkl
and run a page with no repository (checked end to end in a new virtual environment).

The whole book is built once per test run without a repository (the ``full_site`` fixture of
tests/conftest.py, shared by the pytest-xdist workers; as ``make book`` does, but without
executing the notebooks: nbval runs them in the same ``make test``); the buttons are checked on
a two-page book built with the same ``_config.yml`` and extensions, to keep CI short. The
end-to-end install from the site is tests/test_site_install.py (its own file, so that the other
worker runs these tests while it installs).
"""

import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.site_build import PAGES, SDIST, VERSION, WHEEL, ZIP, build_site

ROOT = Path(__file__).resolve().parents[1]


def _extension(name: str):
    """A local Sphinx extension of book/_ext, imported by path."""
    import importlib

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.pop(0)


#: Read by tests/conftest.py to order the files (two site builds and reading them: ~45 s).
EXPECTED_SECONDS = 45

REPO = "https://github.com/example-owner/fairkl"
SITE = "https://example-owner.github.io/fairkl"
# A script, style sheet, preloaded font or image taken from another host (absolute or protocol-relative URL).
EXTERNAL = re.compile(
    r"<(?:script|link|img)\b[^>]*\b(?:src|href)=\"(?:https?:)?//[^\"]*\"[^>]*>", re.I
)
# The theme's repository/issue buttons (sphinx-book-theme's header buttons).
REPO_BUTTONS = re.compile(r"btn-source-(?:repository|issues|edit)-button")
LINK_REL = re.compile(r"\brel=\"(?:stylesheet|preload|modulepreload|icon|prefetch)\"", re.I)


def _external_resources(html: str) -> list[str]:
    tags = EXTERNAL.findall(html)
    return [t for t in tags if not t.lower().startswith("<link") or LINK_REL.search(t)]


@pytest.fixture(scope="module")
def tiny_site_with_repo(tmp_path_factory, full_site):
    src = tmp_path_factory.mktemp("tiny")
    shutil.copy(ROOT / "_config.yml", src / "_config.yml")
    shutil.copy(ROOT / "pyproject.toml", src / "pyproject.toml")  # the version the downloads carry
    shutil.copytree(ROOT / "book" / "_ext", src / "book" / "_ext")
    shutil.copy(ROOT / "book" / "installation.md", src / "book" / "installation.md")
    shutil.copytree(ROOT / "book" / "_inv", src / "book" / "_inv")  # local intersphinx inventories
    shutil.copy(ROOT / "book" / "references.bib", src / "book" / "references.bib")
    (src / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/installation\n  - file: book/page\n"
    )
    (src / "book" / "intro.md").write_text("# Tiny\n\nA formula: $a^2 + b^2$.\n")
    (src / "book" / "page.py").write_text(
        "# ---\n# jupyter:\n#   kernelspec:\n#     display_name: Python 3\n#     language: python\n"
        "#     name: python3\n# ---\n\n# %% [markdown]\n# # A page\n#\n# $$x^2$$\n\n# %%\nimport fairkl\n"
    )  # fmt: skip
    # The wheel and sdist of the full build (the tiny book is no package to build).
    dist = str(full_site / "_static" / "downloads")
    return build_site(
        src, tmp_path_factory.mktemp("tiny_out"), REPO, FAIRKL_SITE_URL=SITE, FAIRKL_DIST_DIR=dist
    )


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
    assert (
        "https://mybinder.org/v2/gh/example-owner/fairkl/main?urlpath=lab/tree/book/page.py" in page
    )
    # Colab opens only .ipynb files on GitHub: the executed notebook on the notebooks branch.
    assert (
        "https://colab.research.google.com/github/example-owner/fairkl/blob/notebooks/book/page.ipynb"
        in page
    )
    assert "blob/main/book/page.py" not in page
    assert not _external_resources(page)
    intro = (tiny_site_with_repo / "book" / "intro.html").read_text()
    assert (
        f'href="{REPO}"' in intro and "mybinder.org" not in intro
    )  # not a notebook: no launch buttons


@pytest.mark.book
def test_repo_url_must_be_a_github_repository(monkeypatch):
    from sphinx.errors import ConfigError

    repository_buttons = _extension("repository_buttons")

    class Config:
        html_theme_options = {"launch_buttons": {"notebook_interface": "jupyterlab"}}

    monkeypatch.setenv("FAIRKL_REPO_URL", "gitlab.com/owner/fairkl")
    with pytest.raises(
        ConfigError, match=r"must look like https://github.com/OWNER/REPO, got 'gitlab.com"
    ):
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


# --- The package and the notebooks, carried by the site (book/_ext/site_downloads.py) ---

HREF = re.compile(r'href="([^"#?]+)"')


def _text(html: str) -> str:
    """The visible text of a page, tags dropped and entities decoded."""
    import html as html_module

    return html_module.unescape(re.sub(r"<[^>]+>", "", html))


def _linked_files(page: Path) -> dict[str, Path]:
    """File name -> resolved target of every link to the downloads from a built page."""
    links = {}
    for href in HREF.findall(page.read_text()):
        if "_static/downloads/" in href and not href.startswith(("http:", "https:", "//")):
            links[href.rsplit("/", 1)[1]] = (page.parent / href).resolve()
    return links


def _install_hint(page: Path) -> str:
    """The first code cell of a page (the install hint, identical on every page)."""
    import jupytext

    return next(c.source for c in jupytext.read(page).cells if c.cell_type == "code")


@pytest.mark.slow
def test_site_carries_this_versions_wheel_sdist_and_every_page_as_a_notebook(full_site):
    import tarfile
    import zipfile

    import jupytext
    import nbformat

    downloads = full_site / "_static" / "downloads"
    assert sorted(p.name for p in downloads.iterdir()) == sorted([WHEEL, SDIST, ZIP])
    wheel = set(zipfile.ZipFile(downloads / WHEEL).namelist())
    assert {"fairkl/__init__.py", "fairkl_data/crime.csv.gz", "fairkl_data/adult.data.gz"} <= wheel
    with tarfile.open(downloads / SDIST) as sdist:
        assert f"fairkl-{VERSION}/pyproject.toml" in sdist.getnames()
    archive = zipfile.ZipFile(downloads / ZIP)
    folder = ZIP.removesuffix(".zip")
    expected = {f"{folder}/{p}{ext}" for p in PAGES for ext in (".ipynb", ".py")} | {
        f"{folder}/README.md"
    }
    assert set(archive.namelist()) == expected
    ran = 0
    for page in PAGES:
        source = (ROOT / "book" / f"{page}.py").read_bytes()
        assert archive.read(f"{folder}/{page}.py") == source  # the page as it is in the book
        notebook = nbformat.reads(archive.read(f"{folder}/{page}.ipynb").decode(), as_version=4)
        nbformat.validate(notebook)
        code = [c.source for c in notebook.cells if c.cell_type == "code"]
        assert code == [c.source for c in jupytext.reads(source.decode(), fmt="py:percent").cells
                        if c.cell_type == "code"]  # fmt: skip
        ran += sum(c.execution_count is not None for c in notebook.cells if c.cell_type == "code")
    # This build ran no page (FAIRKL_BOOK_EXECUTE=off): the notebooks carry no outputs and the
    # zip's README says so instead of calling them executed.
    readme = archive.read(f"{folder}/README.md").decode()
    assert ran == 0 and "NOT executed" in readme and f"'{WHEEL}[notebooks]'" in readme


@pytest.mark.slow
def test_installation_and_every_notebook_page_link_the_downloads(full_site):
    installation = full_site / "book" / "installation.html"
    links = _linked_files(installation)
    assert set(links) == {WHEEL, SDIST, ZIP} and all(p.is_file() for p in links.values()), links
    for page in PAGES:
        html_page = full_site / "book" / f"{page}.html"
        html = html_page.read_text()
        note = html[html.index("fairkl-get-code") :][:3000]
        assert "Get the code" in note and 'href="installation.html"' in note, page
        links = _linked_files(html_page)
        assert set(links) >= {WHEEL, ZIP} and all(p.is_file() for p in links.values()), (
            page,
            links,
        )
        assert "executed" not in _text(note).split("Installation")[0]  # this build ran no page
    for page in ("intro", "glossary", "installation"):  # not notebooks: no note
        assert "fairkl-get-code" not in (full_site / "book" / f"{page}.html").read_text()


@pytest.mark.slow
def test_one_install_hint_everywhere_without_a_repository(full_site):
    hints = {_install_hint(ROOT / "book" / f"{p}.py") for p in PAGES}
    assert len(hints) == 1, "the first code cells differ"
    commands = re.findall(
        r"`(python -m pip install [^`]+)`", "".join(re.findall(r'"([^"]*)"', hints.pop()))
    )
    assert len(commands) == 2, commands  # the wheel, and '.' in a clone
    text = _text((full_site / "book" / "installation.html").read_text())
    for command in commands:
        assert command.replace("<version>", VERSION) in text, command
    # No repository in this build: no Git route, no placeholder, no Colab cell (no SITE_URL).
    assert "git clone" not in text and "REPOSITORY_URL" not in text and "OWNER" not in text
    assert "%pip install" not in text and "Launch buttons" not in text


@pytest.mark.slow
def test_with_repo_and_site_url_installation_shows_the_git_route_and_a_colab_cell(
    tiny_site_with_repo,
):
    text = _text((tiny_site_with_repo / "book" / "installation.html").read_text())
    assert f"git clone {REPO} fairkl" in text and "Launch buttons" in text
    assert f'%pip install "fairkl[notebooks] @ {SITE}/_static/downloads/{WHEEL}"' in text
    downloads = tiny_site_with_repo / "_static" / "downloads"
    assert (downloads / WHEEL).is_file() and (downloads / ZIP).is_file()
    note = (tiny_site_with_repo / "book" / "page.html").read_text()
    assert (
        f'href="{REPO}"' in note[note.index("fairkl-get-code") :][:3000]
    )  # the note names the repository


@pytest.mark.book
def test_site_url_must_be_an_https_address(monkeypatch, tmp_path):
    from sphinx.errors import ConfigError

    site_downloads = _extension("site_downloads")

    class App:
        confdir = str(ROOT)

    monkeypatch.setenv("FAIRKL_SITE_URL", "example.org/fairkl")
    with pytest.raises(
        ConfigError, match=r"FAIRKL_SITE_URL \(make's SITE_URL\) must be the https:// address"
    ):
        site_downloads._configure(App(), None)
    monkeypatch.setenv("FAIRKL_SITE_URL", f"{SITE}/")
    app = App()
    site_downloads._configure(app, None)
    assert app.fairkl_site["wheel_url"] == f"{SITE}/_static/downloads/{WHEEL}"
    App.confdir = str(tmp_path)  # no pyproject.toml there
    with pytest.raises(ConfigError, match="needs the project's version"):
        site_downloads._configure(App(), None)


def test_readme_names_this_versions_files():
    readme = (ROOT / "README.md").read_text()
    assert f"'{WHEEL}[notebooks]'" in readme and f"unzip {ZIP}" in readme


@pytest.mark.book
def test_zip_notebooks_have_the_glued_numbers_written_into_their_prose():
    import nbformat

    site_downloads = _extension("site_downloads")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell(
            "MSE {glue:text}`p_mse:.3f`, n = {glue:text}`p_n:d`, raw {glue:}`p_raw`, "
            "{glue:any}`p_raw`; elsewhere {glue:text}`other::p_mse:.2f`, unknown {glue:text}`p_nope:.1f`, "
            "figure {glue:}`p_fig`."
        ),
        nbformat.v4.new_code_cell("glue('p_mse', 0.123456)"),
    ]
    glue = {"p_mse": {"data": {"text/plain": repr(0.123456)}}, "p_n": {"data": {"text/plain": "42"}},
            "p_raw": {"data": {"text/plain": "1.5"}},
            "p_fig": {"data": {"text/plain": "<Figure size 640x480 with 1 Axes>", "image/png": "iVBOR"}}}  # fmt: skip
    text, count = site_downloads.paste_glue(nbformat.writes(notebook), glue)
    cells = nbformat.reads(text, as_version=4).cells
    assert count == 4
    assert cells[0].source == (
        f"MSE {format(0.123456, '.3f')}, n = 42, raw 1.5, 1.5; "
        "elsewhere {glue:text}`other::p_mse:.2f`, unknown {glue:text}`p_nope:.1f`, figure {glue:}`p_fig`."
    )
    assert cells[1].source == "glue('p_mse', 0.123456)"  # code untouched


@pytest.mark.book
def test_zip_notebooks_write_python_roles_as_code():
    import nbformat

    site_downloads = _extension("site_downloads")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell(
        "{py:class}`fairkl.FairKernelRidge <fairkl.models.FairKernelRidge>` and "
        "{py:func}`fairkl.metrics.hsic_test`, {py:meth}`~fairkl.models.FairKernelRidge.mu_path`, "
        "{py:data}`fairkl.x`; a {term}`proxy` stays."
    )]  # fmt: skip
    cells = nbformat.reads(
        site_downloads.for_jupyterlab(nbformat.writes(notebook)), as_version=4
    ).cells
    assert cells[0].source == (
        "`fairkl.FairKernelRidge` and `fairkl.metrics.hsic_test()`, `mu_path()`, `fairkl.x`; a {term}`proxy` stays."
    )
