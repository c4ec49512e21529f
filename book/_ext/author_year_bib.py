"""Label bibliography entries "Pérez-Suay et al. 2017" instead of "[PSLMGarcia+17]".

sphinxcontrib-bibtex's ``bibtex_reference_style: author_year`` changes the
citations in the text, but the list on the References page keeps pybtex's
alphabetic labels. This extension registers a pybtex style, ``author_year``:
the "plain" formatting with author–year labels (select it with
``bibtex_default_style: author_year``).
"""

from __future__ import annotations

import codecs

import latexcodec  # noqa: F401  (registers the "ulatex" codec; a pybtex dependency)
from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def _last_name(person) -> str:
    name = " ".join(person.prelast_names + person.last_names)
    return codecs.decode(name, "ulatex").replace("{", "").replace("}", "")


class AuthorYearLabels(BaseLabelStyle):
    """"Gretton et al. 2005", "Bergstra and Bengio 2012", "Song 2012"."""

    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            people = entry.persons.get("author", [])
            names = [_last_name(p) for p in people]
            if len(names) > 2:
                who = f"{names[0]} et al."
            elif names:
                who = " and ".join(names)
            else:
                who = entry.key
            yield f"{who} {entry.fields.get('year', '')}".strip()


class AuthorYearStyle(PlainStyle):
    default_label_style = "author_year"


def setup(app):
    register_plugin("pybtex.style.labels", "author_year", AuthorYearLabels)
    register_plugin("pybtex.style.formatting", "author_year", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
