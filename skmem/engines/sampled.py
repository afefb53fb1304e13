"""SampledDensity with its default kernel density: one bandwidth for all models.

The default density of :class:`~skmem.SampledDensity` standardizes the
numbers by the training rows and picks its widths by the leave-one-out
likelihood of the model's samples. Fitted per fold, every model would choose
its own, so models that trained on a record and models that held it out would
differ in widths as well as in what they learned. This engine fixes them once:
the standardization and categories from all the rows, the widths from a pilot
model trained on all of them (one more generator fit than the plan's models),
and fits every fold model (as the generic engine does) with them fixed.
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
        from .._sampled import pilot_seed, with_fixed_bandwidth

        fixed = with_fixed_bandwidth(estimator, X, random_state=pilot_seed(plan))
        return super().compute(fixed, X, plan)
