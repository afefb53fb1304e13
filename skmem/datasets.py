"""Small embedded data for demos and tests: scikit-learn's digits, no download."""

import numpy as np
from sklearn.datasets import load_digits as _sklearn_load_digits


def load_digits(*, binarize=False, return_y=False):
    """scikit-learn's 8x8 digits (1797 x 64), scaled to [0, 1].

    Parameters
    ----------
    binarize : bool, default=False
        Threshold the pixels at 0.5, giving binary data for a Bernoulli VAE.
    return_y : bool, default=False
        Also return the digit labels.

    Returns
    -------
    X : ndarray of shape (1797, 64)
        Pixel intensities divided by 16 (or thresholded), float64.
    y : ndarray of shape (1797,)
        The labels, when ``return_y`` is True.

    Examples
    --------
    >>> from skmem.datasets import load_digits
    >>> X = load_digits()
    >>> X.shape, float(X.min()), float(X.max())
    ((1797, 64), 0.0, 1.0)
    """
    digits = _sklearn_load_digits()
    X = digits.data / 16.0
    if binarize:
        X = (X >= 0.5).astype(np.float64)
    if return_y:
        return X, digits.target
    return X
