"""Write the small local intersphinx inventories the book links into.

The book builds offline, so Sphinx cannot download ``objects.inv`` from the
NumPy and scikit-learn sites. These files list only the targets the book links
to, with the same URIs as the projects' own inventories; intersphinx reads
them instead (see ``intersphinx_mapping`` in ``_config.yml``). Regenerate with
``python book/_inv/make_inventories.py`` (needs ``sphobjinv``) after adding a
target.
"""

from pathlib import Path

import sphobjinv as soi

HERE = Path(__file__).parent

TARGETS = {
    ("numpy", "NumPy", "2.3"): [
        ("numpy.linalg.solve", "function",
         "reference/generated/numpy.linalg.solve.html#$"),
        ("numpy.linalg.cholesky", "function",
         "reference/generated/numpy.linalg.cholesky.html#$"),
        ("numpy.median", "function", "reference/generated/numpy.median.html#$"),
        ("numpy.random.default_rng", "function",
         "reference/random/generator.html#$"),
    ],
    ("sklearn", "scikit-learn", "1.9"): [
        (name, role, f"modules/generated/{name}.html#$")
        for name, role in [
            ("sklearn.model_selection.KFold", "class"),
            ("sklearn.model_selection.GridSearchCV", "class"),
            ("sklearn.model_selection.cross_validate", "function"),
            ("sklearn.model_selection.train_test_split", "function"),
            ("sklearn.pipeline.make_pipeline", "function"),
            ("sklearn.preprocessing.StandardScaler", "class"),
            ("sklearn.dummy.DummyRegressor", "class"),
            ("sklearn.kernel_ridge.KernelRidge", "class"),
            ("sklearn.metrics.make_scorer", "function"),
            ("sklearn.set_config", "function"),
        ]
    ] + [("metadata_routing", "label", "metadata_routing.html#$", "Metadata Routing")],
}


def main() -> None:
    for (key, project, version), targets in TARGETS.items():
        inv = soi.Inventory()
        inv.project, inv.version = project, version
        for name, role, uri, *disp in targets:
            domain = "std" if role == "label" else "py"
            inv.objects.append(soi.DataObjStr(
                name=name, domain=domain, role=role, priority="1", uri=uri,
                dispname=disp[0] if disp else "-"))
        soi.writebytes(HERE / f"{key}.inv", soi.compress(inv.data_file(contract=True)))


if __name__ == "__main__":
    main()
