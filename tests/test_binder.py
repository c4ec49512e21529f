"""Binder installs exactly what the ``notebooks`` extra of pyproject.toml declares, and that
extra holds everything the book's pages import.

repo2docker reads ``binder/``: ``runtime.txt`` (the Python), ``requirements.txt`` (installed
first) and ``postBuild`` (run last). The only package installation allowed there is the
project itself with the ``notebooks`` extra, so the two cannot drift apart; pip itself is the
one tool ``requirements.txt`` may name.
"""

import ast
import re
import shlex
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
NOTEBOOKS = [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["notebooks"]]
CORE = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
# Files through which repo2docker would install other packages.
OTHER_INSTALLERS = (
    "environment.yml",
    "apt.txt",
    "Pipfile",
    "Pipfile.lock",
    "setup.py",
    "install.R",
    "Project.toml",
)


def _pip_installs(script: str) -> list[list[str]]:
    """The arguments of every `pip install` in a shell script (options dropped)."""
    installs = []
    for line in script.splitlines():
        words = shlex.split(line, comments=True)
        for i in range(len(words) - 1):
            if words[i] == "pip" and words[i + 1] == "install":
                installs.append([w for w in words[i + 2 :] if not w.startswith("-")])
    return installs


def test_postbuild_installs_the_project_with_exactly_the_notebooks_extra():
    script = (BINDER / "postBuild").read_text()
    assert _pip_installs(script) == [[".[notebooks]"]], _pip_installs(script)
    for tool in ("conda ", "mamba ", "apt-get ", "uv "):  # no second route to packages
        assert tool not in script, tool


def test_requirements_txt_names_nothing_but_pip():
    lines = [
        line.split("#")[0].strip()
        for line in (BINDER / "requirements.txt").read_text().splitlines()
    ]
    names = {Requirement(line).name for line in lines if line}
    assert names <= {"pip"}, names
    assert not [f for f in OTHER_INSTALLERS if (BINDER / f).exists() or (ROOT / f).exists()]


def test_runtime_python_satisfies_requires_python():
    (runtime,) = re.findall(
        r"^python-(\d+\.\d+)$", (BINDER / "runtime.txt").read_text(), flags=re.M
    )
    assert SpecifierSet(PYPROJECT["project"]["requires-python"]).contains(f"{runtime}.0"), runtime


def test_notebooks_extra_has_the_front_end_binder_relies_on():
    names = {r.name for r in NOTEBOOKS}
    # jupytext opens the .py pages (binder/overrides.json), jupyterlab-myst renders their MyST,
    # ipykernel runs them, myst-nb provides the `glue` the pages import.
    assert {"jupyterlab", "jupytext", "jupyterlab-myst", "ipykernel", "myst-nb"} <= names, names


def _imported_modules(page: Path) -> set[str]:
    import jupytext

    notebook = jupytext.read(page)
    modules = set()
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(
            line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))
        )
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules.add(node.module.split(".")[0])
    return modules


@pytest.mark.book  # reads the installed notebooks extra (make test-floor installs only `test`)
def test_every_module_a_page_imports_comes_with_fairkl_notebooks():
    """What Binder (and the wheel with `[notebooks]`) installs is enough to run every page."""
    declared = {r.name.lower().replace("_", "-") for r in CORE + NOTEBOOKS}
    # Modules that come with a declared distribution (the distribution's own dependencies).
    transitive = {"matplotlib_inline": "ipykernel", "pandas": "fairlearn"}
    distributions = packages_distributions()
    missing = {}
    for page in sorted((ROOT / "book").glob("*.py")):
        for module in (
            _imported_modules(page) - set(sys.stdlib_module_names) - {"fairkl", "fairkl_data"}
        ):
            dists = {d.lower().replace("_", "-") for d in distributions.get(module, [])}
            if module in transitive:
                dists.add(transitive[module])
            if not dists & declared:
                missing.setdefault(page.name, []).append((module, sorted(dists)))
    assert not missing, missing
