"""Display objects for memorization scores (matplotlib, imported on use).

One display per private module, as scikit-learn keeps its displays in
``sklearn/metrics/_plot/``; the helpers they share are in ``_common.py``.
"""

from ._audit import MembershipAuditDisplay
from ._curve import MemorizationCurveDisplay
from ._curve import mean_nll_curves as mean_nll_curves
from ._explanation import MEMORIZED as MEMORIZED
from ._explanation import OUTLIER as OUTLIER
from ._explanation import TYPICAL as TYPICAL
from ._explanation import UNDEFINED as UNDEFINED
from ._explanation import MemorizationExplanationDisplay
from ._explanation import beyond_bulk as beyond_bulk
from ._explanation import explanation_categories as explanation_categories
from ._memorization import MemorizationDisplay
from ._neighbors import NearestNeighborsDisplay
from ._tradeoff import MemorizationTradeoffDisplay
from ._tradeoff import sweep_setting_columns as sweep_setting_columns

__all__ = [
    "MembershipAuditDisplay",
    "MemorizationCurveDisplay",
    "MemorizationDisplay",
    "MemorizationExplanationDisplay",
    "MemorizationTradeoffDisplay",
    "NearestNeighborsDisplay",
]
