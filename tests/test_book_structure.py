"""Every chapter of the book has the parts of a lesson, and none of the faults readers met.

Checked on the py:percent sources (jupytext), so it runs in a second: learning objectives,
key takeaways, at least two exercises with solutions, the import guard as the first code
cell, a caption and alt text on every figure, code lines short enough not to be clipped
(72 characters: the code box at 1280 px holds 73), and no undefined jargon ("the seed tutorial").
"""

import re
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("*.py"))
PAGES = CHAPTERS + sorted((ROOT / "book").glob("*.md")) + [ROOT / "README.md"]
MAX_CODE_LINE = 72  # measured: the code box holds 73 characters in a 1280-px window
JARGON = re.compile(
    r"seed tutorial|the seed['’]s|\bthe seed\b(?! (?:of|for|value|argument|=))", re.I
)
FIGURE_CALL = re.compile(
    r"\bplt\.(?:subplots|figure|plot|scatter)\(|\bplot_(?:trials|hypervolume)\("
)


def _cells(path):
    return jupytext.read(path, fmt="py:percent").cells


def _visible_code(path):
    for cell in _cells(path):
        if cell.cell_type == "code" and "remove-cell" not in cell.metadata.get("tags", []):
            yield cell


def test_there_are_chapters():
    assert len(CHAPTERS) >= 5, [p.name for p in CHAPTERS]


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_no_undefined_jargon(path):
    hits = [line.strip() for line in path.read_text().splitlines() if JARGON.search(line)]
    assert not hits, hits


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_code_lines_are_not_clipped(path):
    long = [
        line
        for cell in _visible_code(path)
        for line in cell.source.splitlines()
        if len(line) > MAX_CODE_LINE
    ]
    assert not long, long


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_lesson_parts(path):
    text = path.read_text()
    assert re.search(r"\{admonition\}\s*Learning objectives", text), "no learning objectives"
    assert re.search(r"\{admonition\}\s*Key takeaways", text, re.I), "no key-takeaways box"
    exercises = len(re.findall(r"```\{exercise\}", text))
    solutions = len(re.findall(r"```\{solution-start\}", text))
    assert exercises >= 2, f"{exercises} exercise(s)"
    assert solutions == exercises, f"{exercises} exercises but {solutions} solutions"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_first_code_cell_says_what_to_install(path):
    first = next(c for c in _cells(path) if c.cell_type == "code")
    assert "import fairkl" in first.source and "except ModuleNotFoundError" in first.source
    # One install hint everywhere, the one the Installation page gives; no placeholder URL.
    assert "OWNER" not in first.source and "git+" not in first.source
    assert "[notebooks]" in first.source and "Installation page" in first.source


def test_every_chapter_gives_the_same_install_hint():
    firsts = {next(c for c in _cells(p) if c.cell_type == "code").source for p in CHAPTERS}
    assert len(firsts) == 1, firsts


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_figure_has_a_caption_and_alt_text(path):
    missing = []
    for cell in _visible_code(path):
        if FIGURE_CALL.search(cell.source):
            meta = cell.metadata.get("mystnb", {})
            caption = meta.get("figure", {}).get("caption", "")
            alt = meta.get("image", {}).get("alt", "")
            if len(caption) < 20 or len(alt) < 10:
                missing.append(cell.source.splitlines()[0])
    assert not missing, missing


def test_output_lines_wider_than_the_output_box_fail_their_cell():
    """The nbval check of tests/conftest.py (BookOutputWidth) on outputs built by hand: a shown
    line over OUTPUT_WIDTH characters fails its cell; hidden cells and rich results do not."""
    from types import SimpleNamespace

    from tests.conftest import OUTPUT_WIDTH, BookOutputWidth

    def outcome(outputs, tags=()):
        report = SimpleNamespace(passed=True, outcome="passed", longrepr=None)
        cell = SimpleNamespace(metadata={"tags": list(tags)})
        item = SimpleNamespace(test_outputs=outputs, cell=cell)
        hook = BookOutputWidth().pytest_runtest_makereport(item, SimpleNamespace(when="call"))
        next(hook)
        with pytest.raises(StopIteration):
            hook.send(SimpleNamespace(get_result=lambda: report))
        return report.outcome

    def stream(text, name="stdout"):
        return {"output_type": "stream", "name": name, "text": text}

    def result(data):
        return {"output_type": "execute_result", "data": data}

    fits, wide = "a" * OUTPUT_WIDTH, "b" * (OUTPUT_WIDTH + 1)
    assert outcome([stream(f"{fits}\n{fits}   \n")]) == "passed"  # trailing blanks are not shown
    assert outcome([stream(f"short\n{wide}\n")]) == "failed"
    assert outcome([stream(wide, name="stderr")]) == "failed"  # warnings are shown too
    assert outcome([result({"text/plain": wide})]) == "failed"
    assert outcome([result({"text/plain": wide, "text/html": "<table/>"})]) == "passed"
    assert outcome([stream(wide)], tags=["remove-output"]) == "passed"
    assert outcome([stream(wide)], tags=["remove-cell"]) == "passed"
