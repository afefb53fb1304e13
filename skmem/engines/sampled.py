"""SampledDensity with its default kernel density: one bandwidth for all models.

The default density of :class:`~skmem.SampledDensity` takes its bandwidth from
a rule on the training rows. Fitted per fold, every model would compute it on
its own rows, so models that trained on a record and models that held it out
would differ in bandwidth as well as in what they learned. This engine
computes the rule once, from all the rows, and fits every fold model (as the
generic engine does) with that bandwidth fixed.
"""

from .generic import GenericEngine


class SampledDensityEngine(GenericEngine):
    """The generic engine, with the sampled density's bandwidth fixed once."""

    name = "sampled"

    @classmethod
    def unsupported_reason(cls, estimator, X):
        """None for a SampledDensity with its default density."""
        from .._sampled import SampledDensity

        if not isinstance(estimator, SampledDensity):
            return f"{type(estimator).__name__} is not a SampledDensity"
        if estimator.density is not None:
            return "its density is given, with a bandwidth of its own"
        return None

    def compute(self, estimator, X, plan):
        from .._sampled import with_fixed_bandwidth

        return super().compute(with_fixed_bandwidth(estimator, X), X, plan)
