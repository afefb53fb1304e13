"""synthcity's generative plugins behind ``fit(X)`` and ``sample(n)``.

synthcity 0.2.12 (the newest release) requires ``torch>=2.1,<2.3`` and
``numpy<2.0``, so it cannot be installed beside torch 2.13 and numpy 2; the
adapter is tested against a stand-in for ``synthcity.plugins`` with the same
calls (``Plugins().get(name, **params)``, ``plugin.fit(df)``,
``plugin.generate(count=n, random_state=seed).dataframe()``).
"""

from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._table import TableSynthesizer, plain_frame, quiet_library, seeded_global_rngs


def _plugins():
    try:
        from synthcity.plugins import Plugins
    except ImportError as exc:
        raise ImportError(
            "SynthcitySynthesizer needs the synthcity package (pip install "
            "synthcity; its releases up to 0.2.12 pin torch<2.3 and numpy<2, so it "
            f"needs an environment of its own). ({exc})"
        ) from exc
    return Plugins()


class SynthcitySynthesizer(TableSynthesizer):
    """A synthcity plugin (``"ctgan"``, ``"tvae"``, ``"bayesian_network"``...)
    with ``fit(X)`` and ``sample(n)``.

    Parameters
    ----------
    name : str
        The plugin's name, as ``synthcity.plugins.Plugins().list()`` gives it.
    random_state : int, RandomState instance or None, default=None
        Seeds training (passed as the plugin's own ``random_state``, and
        numpy's and torch's global generators are seeded around ``fit``) and
        sampling (``generate(..., random_state=seed)``). None leaves the
        plugin's defaults (synthcity's plugins default to seed 0).
    **params
        Passed to the plugin, e.g. ``n_iter=100``.

    Attributes
    ----------
    plugin_ : synthcity plugin
        The trained plugin.
    columns_, dtypes_, column_kinds_, n_features_in_
        As in :class:`SDVSynthesizer`.

    Examples
    --------
    >>> from skmem.integrations import SynthcitySynthesizer
    >>> SynthcitySynthesizer("ctgan", n_iter=100)
    SynthcitySynthesizer(n_iter=100)
    """

    def __init__(self, name="ctgan", *, random_state=None, **params):
        super().__init__(name, random_state=random_state, **params)

    def fit(self, X, y=None):
        """Train the plugin on the table ``X`` (DataFrame or array)."""
        plugins = _plugins()
        df = self._remember_table(X)
        fit_seed, rng = self._fit_seed_and_sampling_rng()
        self._sampling_rng = rng
        params = dict(self._params)
        if fit_seed is not None:
            params["random_state"] = fit_seed
        try:
            plugin = plugins.get(self.name, **params)
        except TypeError as exc:
            raise ValueError(f"synthcity's {self.name} with {params}: {exc}") from exc
        with quiet_library(), seeded_global_rngs(fit_seed):
            plugin.fit(plain_frame(df))
        self.plugin_ = plugin
        return self

    def sample(self, n_samples=1, random_state=None):
        """``n_samples`` synthetic rows with the training table's columns and dtypes."""
        check_is_fitted(self, "plugin_")
        kwargs = {}
        if random_state is not None:
            kwargs["random_state"] = int(
                check_random_state(random_state).randint(2**31 - 1)
            )
        elif self.random_state is not None:
            kwargs["random_state"] = int(self._sampling_rng.randint(2**31 - 1))
        with quiet_library():
            generated = self.plugin_.generate(count=int(n_samples), **kwargs)
        frame = generated.dataframe() if hasattr(generated, "dataframe") else generated
        return self._output(frame, int(n_samples))
