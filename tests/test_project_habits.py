"""The habits of the project: one version, typed package, pinned hooks, a changelog, a true layout."""

import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import fairkl

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]


def test_the_version_is_written_once():
    """pyproject.toml holds it; fairkl.__version__ reads the installed metadata."""
    assert fairkl.__version__ == importlib.metadata.version("fairkl") == VERSION
    source = (ROOT / "fairkl" / "__init__.py").read_text()
    assert not re.search(r"__version__\s*=\s*['\"]", source)  # not typed a second time
    # The only other place it is typed, the citation in the book, must agree.
    assert f"version = {{{VERSION}}}" in (ROOT / "book" / "intro.md").read_text()


def test_changelog_has_unreleased_and_the_current_version():
    text = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## \[([^\]]+)\]", text, flags=re.M)
    assert headings[0] == "Unreleased" and VERSION in headings


def test_py_typed_is_package_data():
    assert (ROOT / "fairkl" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["fairkl"]


@pytest.mark.slow
def test_the_wheel_carries_py_typed_under_this_version(tmp_path):
    # Built from a copy of what the wheel needs: setuptools writes build/ and *.egg-info into
    # the source folder, which other tests (the sdist/wheel and site builds) may be building
    # from at the same time on another pytest-xdist worker.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    junk = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("fairkl", "fairkl_data"):
        shutil.copytree(ROOT / name, src / name, ignore=junk)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w",
         str(tmp_path), str(src)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("fairkl-*.whl")
    assert wheel.name == f"fairkl-{VERSION}-py3-none-any.whl"
    assert "fairkl/py.typed" in zipfile.ZipFile(wheel).namelist()


def test_pre_commit_pins_the_ruff_the_project_is_checked_with():
    config = (ROOT / ".pre-commit-config.yaml").read_text()
    assert "repo: https://github.com/astral-sh/ruff-pre-commit" in config
    assert re.search(r"^\s+- id: ruff-check$", config, flags=re.M)
    assert re.search(r"^\s+- id: ruff-format$", config, flags=re.M)
    (rev,) = re.findall(r"^\s+rev: v(\S+)$", config, flags=re.M)
    # the test extra pins ruff (pyproject.toml), so the pin and the installed tool agree
    assert rev == importlib.metadata.version("ruff")


def test_the_tree_is_ruff_clean():
    """`ruff check` and `ruff format --check` pass with the settings in pyproject.toml."""
    for args in (["check", "."], ["format", "--check", "."]):
        proc = subprocess.run(
            [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _layout_paths(text: str) -> list[str]:
    """The backticked paths in the first column of the README's layout table."""
    body = re.split(r"^## ", text.split("## Layout\n", 1)[1], maxsplit=1, flags=re.M)[0]
    rows = re.findall(r"^\| ([^|]+) \|", body, flags=re.M)
    return [p for row in rows for p in re.findall(r"`([^`]+)`", row)]


def test_readme_layout_matches_the_tree():
    paths = _layout_paths((ROOT / "README.md").read_text())
    assert len(paths) > 20
    missing = [p for p in paths if not (ROOT / p).exists()]
    assert missing == [], missing
    named = {p.rstrip("/") for p in paths}
    modules = {
        f"fairkl/{p.name}" for p in (ROOT / "fairkl").iterdir() if p.name != "__pycache__"
    } - {"fairkl/__init__.py"}
    assert modules - named == set(), "not in the README's layout table"


def test_contributing_names_existing_files_and_the_make_targets():
    text = (ROOT / "CONTRIBUTING.md").read_text()
    for target in ("make test-fast", "make test ", "make book"):
        assert target in text
    for path in re.findall(r"`(fairkl/[\w/.]+\.py)`", text):
        assert (ROOT / path).is_file(), path
    makefile = (ROOT / "Makefile").read_text()
    assert all(f"\n{t}:" in makefile for t in ("test-fast", "test", "book"))
