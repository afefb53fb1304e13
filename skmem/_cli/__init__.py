"""The ``skmem`` command's parts, one job per module.

- :mod:`.errors`: the one-line usage error;
- :mod:`.models`: the model registry and ``make_estimator``;
- :mod:`.tables`: reading ``.csv``, ``.parquet``, ``.npy`` and ``.npz`` files,
  and what to do with missing cells;
- :mod:`.preprocess`: the scaling and encoding each model gets;
- :mod:`.runs`: fitting one scorer per model, the nearest-neighbour test;
- :mod:`.figures`: the report's figures, one registry.

Each imports scikit-learn, pandas and matplotlib only inside its functions, so
that ``skmem --help`` answers at once.
"""
