"""A column transformer that says it takes missing cells (its imputers fill them).

Imported only for ``--missing impute``: it imports scikit-learn.
"""

from sklearn.compose import ColumnTransformer


class ImputingColumnTransformer(ColumnTransformer):
    """A ColumnTransformer whose every column group starts with an imputer.

    scikit-learn's ColumnTransformer does not declare ``allow_nan`` whatever
    its transformers do, so the scorer would refuse the missing cells that
    the imputers are there to fill.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
