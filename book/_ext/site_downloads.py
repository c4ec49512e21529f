"""The site carries fairkl: its wheel, its sdist and one zip of every page as a notebook.

At the end of an HTML build this extension writes, under ``_static/downloads/`` of the
site (its own static files, so a downloaded or mirrored copy of the site keeps them):

* ``fairkl-<version>-py3-none-any.whl`` and ``fairkl-<version>.tar.gz``, built from this
  project with ``python -m build``, which runs while Sphinx builds (or, when ``FAIRKL_DIST_DIR`` names a folder that holds
  them, e.g. ``dist/`` after ``make dist``, copied from there);
* ``fairkl-<version>-notebooks.zip``: one folder with every notebook page as the ``.ipynb``
  myst-nb wrote to ``<build>/jupyter_execute/`` and as its ``.py`` source, plus a README.
  In a normal build the notebooks are executed; a build with ``FAIRKL_BOOK_EXECUTE=off``
  (book/_ext/execution_switch.py) zips them without outputs, and the zip's README says so.

It also

* renders ``book/installation.md`` as a Jinja template (``{{ wheel }}``,
  ``{% if repo_url %}`` ...), so the page names this version's files and shows the Git
  route only when ``FAIRKL_REPO_URL`` is set and a Colab cell that installs the wheel from
  the published site only when ``FAIRKL_SITE_URL`` is set;
* adds the role ``{fairkl-download}`wheel``` (``sdist``, ``notebooks``): a link to that
  file from the current page;
* puts a short "Get the code" note under the title of every notebook page.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

import jinja2
from docutils import nodes
from sphinx.errors import ConfigError, ExtensionError

ENV_SITE = "FAIRKL_SITE_URL"  # where the site is published, e.g. https://owner.github.io/fairkl
ENV_REPO = "FAIRKL_REPO_URL"  # the same variable as book/_ext/repository_buttons.py
ENV_DIST = "FAIRKL_DIST_DIR"  # optional: take the wheel and sdist from here instead of building
DOWNLOADS = "_static/downloads"
TEMPLATED = {"book/installation"}
_ZIP_DATE = (2026, 1, 1, 0, 0, 0)  # fixed timestamps: the same pages give the same zip


def _url(variable: str) -> str:
    return os.environ.get(variable, "").strip().removesuffix("/")


def files(version: str) -> dict[str, str]:
    """The names of the three downloads of a fairkl version."""
    return {
        "wheel": f"fairkl-{version}-py3-none-any.whl",
        "sdist": f"fairkl-{version}.tar.gz",
        "notebooks": f"fairkl-{version}-notebooks.zip",
    }


def _configure(app, config) -> None:
    pyproject = Path(app.confdir) / "pyproject.toml"
    try:
        version = tomllib.loads(pyproject.read_text())["project"]["version"]
    except (OSError, KeyError) as error:
        raise ConfigError(f"site_downloads needs the project's version in {pyproject}: {error!r}") from error
    site = _url(ENV_SITE)
    if site and not re.match(r"^https://[^\s/]+(/\S*)?$", site):
        raise ConfigError(
            f"{ENV_SITE} (make's SITE_URL) must be the https:// address the site is published at, got {site!r}: "
            "Colab installs the wheel from it."
        )
    repo = _url(ENV_REPO).removesuffix(".git")
    app.fairkl_site = {
        "version": version,
        **files(version),
        "site_url": site,
        "repo_url": repo,
        "wheel_url": f"{site}/{DOWNLOADS}/{files(version)['wheel']}" if site else "",
    }


def _relative(docname: str, target: str) -> str:
    return "../" * docname.count("/") + target


def _download_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    key = text.strip()
    env = inliner.document.settings.env
    site = env.app.fairkl_site
    if key not in ("wheel", "sdist", "notebooks"):
        message = inliner.reporter.error(f"fairkl-download: unknown file {key!r} (wheel, sdist or notebooks)")
        return [inliner.problematic(rawtext, rawtext, message)], [message]
    uri = _relative(env.docname, f"{DOWNLOADS}/{site[key]}")
    return [nodes.reference(rawtext, "", nodes.literal(site[key], site[key]), refuri=uri)], []


def _render_template(app, docname, source) -> None:
    if docname in TEMPLATED:
        template = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
        executed = app.config.nb_execution_mode != "off"
        source[0] = template.from_string(source[0]).render(**app.fairkl_site, executed=executed)


def _notebook_pages(app) -> list[str]:
    return sorted(d for d in app.env.found_docs if str(app.env.doc2path(d)).endswith(".py"))


def _get_the_code(app, doctree, docname) -> None:
    if not str(app.env.doc2path(docname)).endswith(".py"):
        return
    site = app.fairkl_site
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        return

    def link(key: str) -> nodes.reference:
        uri = _relative(docname, f"{DOWNLOADS}/{site[key]}")
        return nodes.reference("", "", nodes.literal(site[key], site[key]), refuri=uri)

    install = app.builder.get_relative_uri(docname, "book/installation")
    text = nodes.paragraph()
    executed = "executed " if app.config.nb_execution_mode != "off" else ""
    text += [nodes.Text(f"This page and every other, each as an {executed}.ipynb and as its .py: ")]
    text += [link("notebooks"), nodes.Text(". The package: "), link("wheel"), nodes.Text(". ")]
    text += [nodes.reference("", "Installation", refuri=install), nodes.Text(" gives the three commands that run them")]
    if site["repo_url"]:
        text += [nodes.Text(", and the route through "), nodes.reference("", "the repository", refuri=site["repo_url"])]
    text += [nodes.Text(".")]
    note = nodes.admonition(classes=["note", "fairkl-get-code"])
    note += nodes.title("", "Get the code")
    note += text
    section.insert(1, note)  # right under the page title


README = """\
# fairkl {version}: the book's pages as notebooks

Every page of the fairkl book, twice: `<page>.ipynb` and `<page>.py`, the py:percent
file the page is built from (JupyterLab opens it as a notebook through jupytext).
The notebooks are {state}. In their prose, references to fairkl's API are written
as code (the .py files keep the Sphinx roles, which JupyterLab shows raw).

    python -m pip install '{wheel}[notebooks]'   # the wheel from the same site
    jupyter lab                                       # in this folder; add --allow-root as root

`[notebooks]` brings JupyterLab, jupytext, jupyterlab-myst (renders the pages' MyST:
glossary terms, citations, admonitions, equations), myst-nb and fairlearn. The data ship
inside fairkl, so every page runs offline.

Pages: {pages}
"""


GLUE_ROLE = re.compile(r"\{glue(:text|:any|:)?\}`([^`]+)`")


PY_ROLE = re.compile(r"\{py:(func|meth|class|data|attr|mod|obj|exc)\}`([^`]+)`")


def _py_role_as_code(match: re.Match) -> str:
    """``{py:func}`title <target>``` -> ```title```, as Sphinx titles it (``~`` keeps the last
    name; a function or method without a title gets ``()``)."""
    kind, body = match.groups()
    if body.endswith(">") and " <" in body:
        return f"`{body[: body.rindex(' <')].strip()}`"
    target = body.lstrip("!")
    title = target[1:].rsplit(".", 1)[-1] if target.startswith("~") else target
    return f"`{title}()`" if kind in ("func", "meth") else f"`{title}`"


def for_jupyterlab(notebook: str) -> str:
    """The notebook with Sphinx's Python roles in its markdown written as inline code: JupyterLab
    (jupyterlab-myst) does not know them and shows ``title <target>`` as raw text."""
    import nbformat

    parsed = nbformat.reads(notebook, as_version=4)
    for cell in parsed.cells:
        if cell.cell_type == "markdown":
            cell.source = PY_ROLE.sub(_py_role_as_code, cell.source)
    return nbformat.writes(parsed)


def paste_glue(notebook: str, glue: dict) -> tuple[str, int]:
    """The notebook with each inline glue role in its markdown replaced by the glued text, as on
    the site (JupyterLab has no glue: it would show the key); and the number replaced.

    ``glue`` is myst-nb's ``<page>.glue.json`` (key -> {"data": {mime: value}}). Roles that
    name another page (``path::key``), a key without text/plain, or (for ``{glue:}``) a
    richer output such as a figure stay as they are.
    """
    import nbformat
    from myst_nb.core.variables import format_plain_text

    count = 0

    def replace(match: re.Match) -> str:
        nonlocal count
        kind, body = match.groups()
        key, fmt = body.rsplit(":", 1) if kind == ":text" and ":" in body else (body, "")
        data = glue.get(key, {}).get("data", {})
        text = data.get("text/plain")
        # {glue:}/{glue:any} show the richest output (a figure, HTML): only plain text is pasted.
        if "::" in key or text is None or (kind != ":text" and set(data) != {"text/plain"}):
            return match.group(0)
        count += 1
        return format_plain_text(text, fmt)

    parsed = nbformat.reads(notebook, as_version=4)
    for cell in parsed.cells:
        if cell.cell_type == "markdown":
            cell.source = GLUE_ROLE.sub(replace, cell.source)
    return nbformat.writes(parsed), count


def _executed_code_cells(notebook: Path) -> tuple[int, int]:
    cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    return sum(1 for c in cells if c.get("execution_count") is not None), len(cells)


def _start_package(app) -> None:
    """Start ``python -m build`` when the build starts: it runs beside Sphinx (~4 s), collected at the end."""
    app.fairkl_dist = None
    if app.builder.format != "html" or os.environ.get(ENV_DIST, "").strip():
        return
    folder = Path(tempfile.mkdtemp(prefix="fairkl-dist-"))
    log = (folder / "build.log").open("w")  # not a pipe: nobody reads it before the end
    process = subprocess.Popen([sys.executable, "-m", "build", "--outdir", str(folder / "dist"),
                                str(app.confdir)], stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    log.close()
    app.fairkl_dist = (folder, process)


def _package(app) -> Path:
    """The wheel and the sdist of this version, in a folder (built unless FAIRKL_DIST_DIR has them)."""
    site = app.fairkl_site
    given = os.environ.get(ENV_DIST, "").strip()
    if given:
        folder = Path(given)
        missing = [site[k] for k in ("wheel", "sdist") if not (folder / site[k]).is_file()]
        if missing:
            raise ExtensionError(f"{ENV_DIST}={given!r} lacks {missing} (this version is {site['version']}).")
        return folder
    folder, process = app.fairkl_dist
    if process.wait() != 0:
        log = (folder / "build.log").read_text(errors="replace")
        _stop_package(app)
        raise ExtensionError(
            "site_downloads: `python -m build` failed (install the `build` package, or set "
            f"{ENV_DIST} to a folder holding {site['wheel']} and {site['sdist']}):\n{log[-2000:]}"
        )
    return folder / "dist"


def _stop_package(app) -> None:
    """A build that failed: stop ``python -m build`` and remove its folder."""
    started = getattr(app, "fairkl_dist", None)
    if started is not None:
        folder, process = started
        if process.poll() is None:
            process.kill()
        process.wait()
        shutil.rmtree(folder, ignore_errors=True)
        app.fairkl_dist = None


def _write_downloads(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        _stop_package(app)
        return
    site = app.fairkl_site
    out = Path(app.outdir) / DOWNLOADS
    out.mkdir(parents=True, exist_ok=True)
    dist = _package(app)
    for key in ("wheel", "sdist"):
        shutil.copyfile(dist / site[key], out / site[key])
    _stop_package(app)  # removes the temporary folder of `python -m build`

    executed = Path(app.outdir).parent / "jupyter_execute"
    folder = Path(site["notebooks"]).stem
    pages, ran, code, pasted = [], 0, 0, 0
    with zipfile.ZipFile(out / site["notebooks"], "w", zipfile.ZIP_DEFLATED) as archive:

        def add(name: str, data: bytes) -> None:
            archive.writestr(zipfile.ZipInfo(f"{folder}/{name}", _ZIP_DATE), data, zipfile.ZIP_DEFLATED)

        for docname in _notebook_pages(app):
            stem = Path(docname).name
            notebook = executed / f"{docname}.ipynb"
            if not notebook.is_file():
                raise ExtensionError(f"site_downloads: myst-nb wrote no {notebook} for {docname}.")
            counts = _executed_code_cells(notebook)
            ran, code = ran + counts[0], code + counts[1]
            text = for_jupyterlab(notebook.read_text())
            glue_file = executed / f"{docname}.glue.json"
            if glue_file.is_file():
                text, count = paste_glue(text, json.loads(glue_file.read_text()))
                pasted += count
            add(f"{stem}.ipynb", text.encode())
            add(f"{stem}.py", Path(app.env.doc2path(docname)).read_bytes())
            pages.append(stem)
        if ran == code:
            state = "executed, with the outputs of the site's build"
        elif ran == 0:
            state = "NOT executed: this site was built with execution off; run them to see outputs"
        else:
            state = f"partly executed: {ran} of {code} code cells ran in the site's build"
        if pasted:
            state += (
                f"; in their prose the {pasted} numbers the site takes from the results (myst-nb's"
                " glue roles, which JupyterLab cannot render) are written in, as on the site; the"
                " .py files keep the roles"
            )
        add("README.md", README.format(**site, state=state, pages=", ".join(pages)).encode())


def setup(app):
    app.connect("config-inited", _configure)
    app.connect("builder-inited", _start_package)
    app.connect("source-read", _render_template)
    app.add_role("fairkl-download", _download_role)
    app.connect("doctree-resolved", _get_the_code)
    app.connect("build-finished", _write_downloads)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
