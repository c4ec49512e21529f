"""Let the site tests build the book without executing its notebooks.

``FAIRKL_BOOK_EXECUTE=off`` sets myst-nb's execution mode to ``off`` for one build.
The notebooks themselves are executed and checked by nbval in ``make test``; the
site tests only need the built HTML (scripts, buttons, math), so executing every
page a second time would double the time of the test suite. Unexecuted pages carry
no glued values, so myst-nb's glue warnings are silenced in this mode only. ``make book`` never
sets the variable: the published site is always built from executed notebooks.
"""

from __future__ import annotations

import os

VARIABLE = "FAIRKL_BOOK_EXECUTE"


def _configure(app, config) -> None:
    mode = os.environ.get(VARIABLE, "").strip()
    if not mode:
        return
    if mode != "off":
        from sphinx.errors import ConfigError

        raise ConfigError(f"{VARIABLE} may only be 'off' (or unset); got {mode!r}.")
    config.nb_execution_mode = "off"
    # Unexecuted pages have no glued values: their {glue} roles cannot resolve. That is the
    # point of this mode, not a fault of the page (make book and nbval execute every page).
    # Likewise figures: they are cell outputs, so a {numref} to one has no target here.
    config.suppress_warnings = [*config.suppress_warnings, "mystnb.glue", "ref.numref"]


def setup(app):
    # Before myst-nb reads its configuration at builder-inited.
    app.connect("config-inited", _configure)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
