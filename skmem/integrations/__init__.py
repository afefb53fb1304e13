"""Table synthesizers of other libraries as skmem generators.

:class:`SDVSynthesizer` and :class:`SynthcitySynthesizer` give SDV's and
synthcity's models ``fit(X)`` on a DataFrame and ``sample(n)`` returning one
with the same columns and dtypes, so that
``SampledDensity(SDVSynthesizer("CTGANSynthesizer", epochs=10))`` can be scored
by :class:`~skmem.MemorizationScorer`. The libraries are optional
(``pip install 'skmem[sdv]'``) and imported only when a model is fitted.
"""

from ._sdv import SDVSynthesizer
from ._synthcity import SynthcitySynthesizer

__all__ = ["SDVSynthesizer", "SynthcitySynthesizer"]
