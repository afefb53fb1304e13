"""What each model gets before it sees the table: encoding, imputing, scaling.

Every step sits inside the estimator (a pipeline), so it is refitted on each
fold's training rows and never sees the rows the fold holds out.
"""

import numpy as np

from .errors import UsageError
from .models import LIBRARIES

# Models whose fit depends on the columns' units: a kernel's one bandwidth
# and a mixture's absolute reg_covar treat every column alike.
NEEDS_SCALING = {"kde", "gmm"}

# A mixture component whose rows share a category has no spread in that
# one-hot column: its density there is a spike of width sqrt(reg_covar), whose
# height grows without bound as reg_covar shrinks, and rare category
# combinations get spikes of their own (large M). A variance of 0.1 (a
# standard deviation of 0.32 on a 0/1 column, a tenth of a standardized
# column's variance) keeps the categories apart without spikes; measured by
# benchmarks/bench_gmm_onehot.py (docs: user guide, "Mixed tables").
ONE_HOT_REG_COVAR = 0.1


def prepare_model(model, params, table, *, preprocess=True, impute=False, sampled=None):
    """The estimator to score ``table`` with, and what was done to it, as text.

    Categorical columns get a one-hot encoding and numeric ones standard
    scaling (for the models that need it), unless ``preprocess`` is False.
    ``impute``: missing cells are filled in (median, or most frequent
    category). The VAE gets a likelihood that suits the data unless one is
    given. ``sampled``: see :func:`~skmem._cli.models.make_estimator`.
    """
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from .models import make_estimator

    estimator = make_estimator(model, params, sampled)
    notes = []
    if model.partition(":")[0] in LIBRARIES:
        # The synthesizer takes the table as it is; the density of its samples
        # standardizes numbers and compares categories, fixed from all rows.
        notes.append(
            "the synthesizer gets the table as it is (numbers, and text as "
            "categories); its samples are scored by a product kernel density"
        )
        return estimator, notes
    cat_names = [table.names[j] for j in table.categorical]
    if table.categorical and not preprocess:
        raise UsageError(
            f"column {cat_names[0]!r} is not numeric, and --no-preprocess leaves it "
            "as text: drop --no-preprocess to one-hot encode it, or encode it "
            "yourself"
        )
    scale = preprocess and model in NEEDS_SCALING
    if model == "vae" and "likelihood" not in params:
        in_unit = not table.categorical and (
            np.nanmin(table.X) >= 0 and np.nanmax(table.X) <= 1
        )
        if in_unit:
            notes.append('VAE likelihood="bernoulli": the data lie in [0, 1]')
        else:
            estimator.set_params(likelihood="gaussian")
            scale = preprocess
            scaled = "standardized columns" if scale else "the columns as they are"
            notes.append(
                'VAE likelihood="gaussian" on ' + scaled + ": the data are not in "
                '[0, 1], which likelihood="bernoulli" needs'
            )

    def numeric_steps():
        steps = [SimpleImputer(strategy="median")] if impute else []
        return steps + ([StandardScaler()] if scale else [])

    one_hot = table.categorical and preprocess
    if one_hot and model == "gmm" and "reg_covar" not in params:
        estimator.set_params(reg_covar=ONE_HOT_REG_COVAR)
        notes.append(
            f"GaussianMixture reg_covar={ONE_HOT_REG_COVAR:g} (not 1e-3): one-hot "
            "columns have no spread inside a component, and a smaller floor on "
            "the variances makes their densities spikes that the scores would "
            "read as memorization (--param reg_covar=... overrides)"
        )
    if table.categorical:
        encode = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        if impute:
            encode = make_pipeline(SimpleImputer(strategy="most_frequent"), encode)
        steps = numeric_steps()
        numeric = steps[0] if len(steps) == 1 else make_pipeline(*steps)
        groups = [
            (encode, table.categorical),
            (numeric if steps else "passthrough", table.numeric),
        ]
        if impute:
            from .imputing import ImputingColumnTransformer

            transformer = ImputingColumnTransformer(
                [(f"group{i}", t, cols) for i, (t, cols) in enumerate(groups)]
            )
        else:
            transformer = make_column_transformer(*groups)
        estimator = make_pipeline(transformer, estimator)
        scaling = "standard scaling" if scale else "no scaling"
        notes.append(
            f"one-hot encoding of the {len(cat_names)} categorical column(s) "
            f"({', '.join(cat_names)}) and {scaling} of the "
            f"{len(table.numeric)} numeric one(s), refitted in each fold "
            "(--no-preprocess turns this off)"
        )
    else:
        steps = numeric_steps()
        if steps:
            estimator = make_pipeline(*steps, estimator)
        if scale and model in NEEDS_SCALING:
            notes.append(
                f"standard scaling of the {table.X.shape[1]} numeric column(s), "
                "refitted in each fold (--no-preprocess turns it off)"
            )
    return estimator, notes
