"""Every number the book's prose reports comes from the computation on its page.

A result quoted in a markdown cell (an MSE, a CKA, a p-value, a ratio, a time, a share)
must be inserted by myst-nb's glue (``{glue:text}`key:.3f` ``) from a value computed on
the page, so that a re-run cannot leave the words behind the output. Numbers that define
the setup (a grid, a significance level, a version, a figure quoted from a paper with
its table number) are listed, each with its reason, in the page's allow-list
``tests/prose_allowlist/<page>.txt`` (``<number> | <reason>`` per line).

Checked statically on the sources, so it runs in a second: the markdown cells, figure
captions and alt texts of every chapter and the text of every Markdown page. A "number"
here is what can carry a result: a decimal (0.27, 1e-3), a percentage (4%) or a ratio
(111×). Plain integers (n = 150, Part 2, 2017) are setup and not checked.
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
ALLOW = Path(__file__).resolve().parent / "prose_allowlist"
CHAPTERS = sorted(BOOK.glob("*.py"))
MD_PAGES = sorted(p for p in BOOK.glob("*.md"))
PAGES = CHAPTERS + MD_PAGES
MAX_ALLOWED = 30  # a short list a reviewer reads in a minute

# A number that can carry a result. Digits inside identifiers (float32, x64, q2, H2O) are
# not numbers; thousands separators (32,561) are integers and are not checked.
NUMBER = re.compile(
    r"(?<![\w.,/\-])"  # not inside a word, a path or a longer number
    r"(?:"
    r"\d+\.\d+(?:[eE][-+−]?\d+)?"  # 0.27, 1.5e-3
    r"|\d+[eE][-+−]?\d+"  # 1e-3
    r"|\.\d+"  # .313
    r"|\d+(?:\.\d+)?\s?(?:%|×|\\times|\s?percent\b|-fold\b)"  # 4%, 111×, 3 percent
    r")"
    r"(?![\w])"
)
# Things that look like numbers but are not claims about a result.
STRIP = [
    re.compile(r"\{glue(?::\w+)?\}`[^`]*`"),  # glued values
    re.compile(r"\{eval\}`[^`]*`"),
    re.compile(r"\{(?:cite(?::\w+)?|numref|ref|doc|eq|term|download|py:\w+)\}`[^`]*`"),
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"https?://\S+"),
    re.compile(r"§\s?\d+(?:\.\d+)*"),  # section numbers
    re.compile(r"\(\s?\d+(?:\.\d+)+\s?\)"),  # equation labels such as (3.2)
    re.compile(r"^\s*:(?:label|name|class|width|align):.*$", re.M),  # directive options
]
GLUE_USE = re.compile(r"\{glue(?::\w+)?\}`([^`:]+)")
GLUE_DEF = re.compile(r"""\bglue\(\s*(?:f?["'])([^"']+)["']""")


def _prose(path: Path) -> str:
    """The text a reader reads on the page, without code."""
    if path.suffix == ".md":
        # Code blocks and autodoc are code (the API page's signatures are checked by
        # test_api_page.py); directives such as admonitions are prose and stay.
        code = r"^(`{3,})(?:\{(?:code-cell|code-block|eval-rst)\}[^\n]*|[\w-]*)\n.*?^\1[ \t]*$"
        return re.sub(code, "", path.read_text(), flags=re.M | re.S)
    parts = []
    for cell in jupytext.read(path, fmt="py:percent").cells:
        if cell.cell_type == "markdown":
            parts.append(cell.source)
        meta = cell.metadata.get("mystnb", {})
        parts.append(meta.get("figure", {}).get("caption", ""))
        parts.append(meta.get("image", {}).get("alt", ""))
    return "\n".join(parts)


def _code(path: Path) -> str:
    if path.suffix == ".md":
        return ""
    return "\n".join(
        c.source for c in jupytext.read(path, fmt="py:percent").cells if c.cell_type == "code"
    )


def numbers_in(text: str) -> list[str]:
    for pattern in STRIP:
        text = pattern.sub(" ", text)
    return [re.sub(r"\s+", " ", m.group(0)).replace("−", "-") for m in NUMBER.finditer(text)]


def allow_list(path: Path) -> dict[str, str]:
    file = ALLOW / f"{path.stem}.txt"
    if not file.exists():
        return {}
    entries = {}
    for line in file.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        number, _, reason = line.partition("|")
        entries[number.strip()] = reason.strip()
    return entries


def test_the_number_pattern():
    text = (
        "MSE 0.27 and 1e-3, a 4% gap, 111× lower, 3 percent; not float32, x64, §5.2, (3.1), n = 150"
    )
    assert numbers_in(text) == ["0.27", "1e-3", "4%", "111×", "3 percent"]
    assert numbers_in("{glue:text}`cka:.3f` and {cite:t}`perez2017` and [a](b/1.5)") == []


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_every_reported_number_is_glued_or_allow_listed(path):
    allowed = allow_list(path)
    found = numbers_in(_prose(path))
    typed = sorted({n for n in found if n not in allowed})
    assert not typed, (
        f"{path.name}: numbers typed into the prose: {typed}. Glue them from the page's "
        f"computation, or, if they define the setup, list them with a reason in "
        f"{(ALLOW / (path.stem + '.txt')).relative_to(ROOT)}."
    )


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_allow_lists_are_short_reasoned_and_current(path):
    allowed = allow_list(path)
    assert len(allowed) <= MAX_ALLOWED, f"{len(allowed)} entries: glue results instead"
    assert all(allowed.values()), [n for n, why in allowed.items() if not why]
    found = set(numbers_in(_prose(path)))
    stale = sorted(set(allowed) - found)
    assert not stale, f"allow-listed but no longer on the page: {stale}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_glued_key_is_computed_on_its_page(path):
    used = set(GLUE_USE.findall(_prose(path)))
    defined = set(GLUE_DEF.findall(_code(path)))
    assert not used - defined, (
        f"glued in the text but never glue()d in code: {sorted(used - defined)}"
    )


def test_no_allow_list_for_a_missing_page():
    pages = {p.stem for p in PAGES}
    orphans = [f.name for f in ALLOW.glob("*.txt") if f.stem not in pages]
    assert not orphans, orphans
