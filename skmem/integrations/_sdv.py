"""SDV's single-table synthesizers behind ``fit(X)`` and ``sample(n)``."""

from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._table import (
    BOOLEAN,
    CATEGORICAL,
    DATETIME,
    NUMERICAL,
    TableSynthesizer,
    plain_frame,
    quiet_library,
    seeded_global_rngs,
)

_TABLE = "table"
_SDTYPES = {
    NUMERICAL: "numerical",
    CATEGORICAL: "categorical",
    BOOLEAN: "boolean",
    DATETIME: "datetime",
}


def _import_sdv(name):
    try:
        import sdv.single_table as single_table
        from sdv.metadata import Metadata
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "SDVSynthesizer needs the sdv package: pip install 'skmem[sdv]' "
            f"(or pip install sdv). ({exc})"
        ) from exc
    names = sorted(n for n in dir(single_table) if n.endswith("Synthesizer"))
    if name not in names:
        raise ValueError(
            f"SDV has no single-table synthesizer {name!r}; choose one of "
            f"{', '.join(names)}."
        )
    return getattr(single_table, name), Metadata


class SDVSynthesizer(TableSynthesizer):
    """Any SDV single-table synthesizer, with ``fit(X)`` and ``sample(n)``.

    Builds SDV's metadata from the table's dtypes (numbers as ``numerical``,
    booleans as ``boolean``, text and pandas categoricals as ``categorical``,
    datetimes as ``datetime``; never ids or personal data, which SDV would
    replace by fresh values), trains the named synthesizer on it, and returns
    samples with the training table's columns and dtypes. Wrapped in
    :class:`~skmem.SampledDensity` it gives every record a memorization score.

    Parameters
    ----------
    name : str, default="GaussianCopulaSynthesizer"
        A class of :mod:`sdv.single_table`: ``GaussianCopulaSynthesizer``,
        ``CTGANSynthesizer``, ``TVAESynthesizer``, ``CopulaGANSynthesizer``...
    random_state : int, RandomState instance or None, default=None
        Seeds training (numpy's and torch's global generators are seeded
        around ``fit`` and restored after, which covers CTGAN's and TVAE's
        networks and SDV's transformers) and sampling (SDV's model random
        state is set before each ``sample``). None leaves SDV's own: its
        training is then not reproducible and its sampling restarts from SDV's
        fixed seed.
    **params
        Passed to the synthesizer, e.g. ``epochs=10`` for CTGAN; seen by
        ``get_params`` and ``set_params``.

    Attributes
    ----------
    synthesizer_ : SDV synthesizer
        The trained synthesizer.
    metadata_ : sdv.metadata.Metadata
    columns_ : list
    dtypes_ : dict
        The training table's columns and their dtypes, given back to samples.
    column_kinds_ : dict
        Column to its sdtype.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skmem.integrations import SDVSynthesizer
    >>> rng = np.random.RandomState(0)
    >>> df = pd.DataFrame({"age": rng.normal(40, 9, 100),
    ...                    "city": rng.choice(["Leeds", "York"], 100)})
    >>> synth = SDVSynthesizer("GaussianCopulaSynthesizer", random_state=0).fit(df)
    >>> synth.sample(3).dtypes.tolist() == df.dtypes.tolist()
    True
    """

    def __init__(
        self, name="GaussianCopulaSynthesizer", *, random_state=None, **params
    ):
        super().__init__(name, random_state=random_state, **params)

    def fit(self, X, y=None):
        """Train the synthesizer on the table ``X`` (DataFrame or array)."""
        cls, Metadata = _import_sdv(self.name)
        df = self._remember_table(X)
        columns = {
            str(c): {"sdtype": _SDTYPES[kind]} for c, kind in self.column_kinds_.items()
        }
        self.metadata_ = Metadata.load_from_dict(
            {"tables": {_TABLE: {"columns": columns}}}
        )
        data = plain_frame(df)
        data.columns = [str(c) for c in data.columns]
        fit_seed, rng = self._fit_seed_and_sampling_rng()
        self._sampling_rng = rng
        try:
            synthesizer = cls(self.metadata_, **self._params)
        except TypeError as exc:
            raise ValueError(f"SDV's {self.name} with {self._params}: {exc}") from exc
        with quiet_library(), seeded_global_rngs(fit_seed):
            synthesizer.fit({_TABLE: data})
        self.synthesizer_ = synthesizer
        return self

    def sample(self, n_samples=1, random_state=None):
        """``n_samples`` synthetic rows with the training table's columns and dtypes.

        ``random_state`` (or, when None, the next seed drawn from the
        adapter's ``random_state``) seeds SDV's sampler.
        """
        check_is_fitted(self, "synthesizer_")
        if random_state is not None:
            seed = int(check_random_state(random_state).randint(2**31 - 1))
        elif self.random_state is not None:
            seed = int(self._sampling_rng.randint(2**31 - 1))
        else:
            seed = None
        with quiet_library():
            if seed is not None:
                self.synthesizer_.reset_sampling()
                self.synthesizer_._set_random_state(seed)
            samples = self.synthesizer_.sample(int(n_samples))
        if isinstance(samples, dict):
            samples = samples[_TABLE]
        samples.columns = self._original_names(samples.columns)
        return self._output(samples, int(n_samples))

    def _original_names(self, names):
        lookup = {str(c): c for c in self.columns_}
        return [lookup.get(str(c), c) for c in names]
