"""The API page shows the real signatures.

``book/api.md`` writes some signatures out by hand (autodoc cannot read a
``keras.Model`` subclass's constructor: Keras defines ``__new__(*args, **kwargs)``).
Every hand-written signature must equal the object's own, so the page cannot drift
from the code (it listed neither ``n_components`` nor ``landmarks`` nor
``random_state``, and showed Keras' ``predict``).
"""

import importlib
import inspect
import re
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[1] / "book" / "api.md"
DIRECTIVE = re.compile(r"^\.\. (autoclass|autofunction|automethod):: ([\w.]+)(\(.*\))\s*$", re.M)


def _resolve(dotted: str):
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def plain_signature(obj, is_class: bool) -> str:
    """The signature as autodoc prints it without annotations (``self`` dropped)."""
    sig = inspect.signature(obj.__init__ if is_class else obj)
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()]
    if params and params[0].name == "self":
        params = params[1:]
    return str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))


def _written():
    return [(m.group(1), m.group(2), m.group(3)) for m in DIRECTIVE.finditer(API.read_text())]


def test_the_page_writes_signatures():
    assert len(_written()) >= 20


@pytest.mark.parametrize(
    "kind,dotted,written", _written(), ids=lambda x: x if isinstance(x, str) else ""
)
def test_written_signature_is_the_real_one(kind, dotted, written):
    real = plain_signature(_resolve(dotted), is_class=kind == "autoclass")
    assert written == real, f"book/api.md shows {dotted}{written}; the code has {dotted}{real}"


def test_the_model_documents_its_own_predict():
    from fairkl.models import FairKernelRidge

    doc = inspect.getdoc(FairKernelRidge.predict)
    assert "batch_size" in doc and "steps, callbacks" in doc
    assert "n_components" in plain_signature(FairKernelRidge, True)
