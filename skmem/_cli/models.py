"""The models ``--model`` names, their defaults, and building them."""

import ast

from .errors import UsageError

# Each model's estimator and its defaults; --help and make_estimator read this.
MODELS = {
    "kde": ("sklearn.neighbors", "KernelDensity", {"bandwidth": "scott"}),
    "gmm": (
        "sklearn.mixture",
        "GaussianMixture",
        {"n_components": 10, "covariance_type": "full", "reg_covar": 1e-3},
    ),
    "vae": (
        "skmem.vae",
        "VAEDensity",
        {
            "latent_dim": 8,
            "hidden_layer_sizes": (256,),
            "max_epochs": 20,
            "n_importance_samples": 128,
        },
    ),
}
VAE_LIKELIHOOD_NOTE = (
    'likelihood="bernoulli" for data in [0, 1], otherwise likelihood="gaussian" '
    "on standardized columns"
)


def model_defaults_text():
    """One line per model: its estimator and the defaults the command sets."""
    lines = []
    for name, (_, cls, defaults) in MODELS.items():
        args = ", ".join(f"{k}={v!r}" for k, v in defaults.items())
        line = f"  {name}  {cls}({args})"
        if name == "vae":
            import textwrap

            indent = " " * 7
            note = textwrap.fill(
                VAE_LIKELIHOOD_NOTE, 78, initial_indent=indent, subsequent_indent=indent
            )
            line += ";\n" + note
        lines.append(line)
    return "\n".join(lines)


def make_estimator(model, params=None, sampled=None):
    """The density estimator for ``--model``, with ``--param`` values applied.

    The parameters are checked as the estimator's ``fit`` would check them,
    before any work. A model given as ``package.module:Class`` is built by
    :func:`skmem._sampled.resolve_model` (wrapped in SampledDensity when it
    samples but has no likelihood, or when ``sampled``).
    """
    import importlib

    library, colon, name = model.partition(":")
    if colon and library in LIBRARIES:
        return library_model(library, name, params or {})
    if model not in MODELS:
        if ":" not in model:
            raise UsageError(
                f"--model {model}: use one of {', '.join(MODELS)}, or an import "
                "path package.module:Class"
            )
        from .._sampled import resolve_model

        try:
            return resolve_model(model, params or {}, sampled=sampled)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    module, cls, defaults = MODELS[model]
    try:
        estimator = getattr(importlib.import_module(module), cls)(**defaults)
    except ImportError as exc:
        raise UsageError(
            f"--model {model} needs {exc.name} (pip install 'skmem[vae]')"
        ) from exc
    params = params or {}
    valid = estimator.get_params()
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise UsageError(
            f"unknown option {unknown[0]!r} for --model {model}; valid: "
            + ", ".join(sorted(valid))
        )
    estimator.set_params(**params)
    from sklearn.utils._param_validation import InvalidParameterError

    try:
        estimator._validate_params()
    except InvalidParameterError as exc:
        raise UsageError(f"--model {model}: {exc}") from exc
    if sampled:  # scored through its samples, as a generator without a likelihood
        from .._sampled import SampledDensity

        return SampledDensity(estimator)
    return estimator


# Table synthesizers of other libraries, as --model LIBRARY:NAME.
LIBRARIES = {"sdv": "SDVSynthesizer", "synthcity": "SynthcitySynthesizer"}


def library_model(library, name, params):
    """``SampledDensity(SDVSynthesizer(name, **params))`` for ``--model sdv:NAME``
    (``SynthcitySynthesizer`` for ``synthcity:NAME``)."""
    from .. import integrations
    from .._sampled import SampledDensity

    if not name:
        example = {"sdv": "GaussianCopulaSynthesizer", "synthcity": "ctgan"}[library]
        raise UsageError(
            f"--model {library}: name the synthesizer, e.g. --model {library}:{example}"
        )
    synthesizer = getattr(integrations, LIBRARIES[library])(name, **params)
    if library == "sdv":
        try:
            integrations._sdv._import_sdv(name)
        except (ImportError, ValueError) as exc:
            raise UsageError(f"--model {library}:{name}: {exc}") from exc
    return SampledDensity(synthesizer)


def parse_params(items):
    """``["bandwidth=0.5", "kernel=tophat"]`` -> dict, values as Python literals."""
    params = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--param expects KEY=VALUE, got {item!r}")
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    return params
