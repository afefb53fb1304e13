"""Memory budgets, from scikit-learn's ``working_memory``."""

import os

from sklearn import get_config


def budget_bytes(fraction=1.0):
    """``fraction`` of scikit-learn's ``working_memory``, in bytes."""
    return get_config()["working_memory"] * 2**20 * fraction


def rows_per_block(row_bytes, n_rows, *, budget=None):
    """Rows of ``row_bytes`` each that fit the budget: at least 1, at most n_rows."""
    budget = budget_bytes() if budget is None else budget
    return int(max(1, min(n_rows, budget // max(row_bytes, 1))))


def available_bytes():
    """Memory available to a new allocation now, or None where the system does
    not say: Linux's MemAvailable (free memory plus reclaimable caches), else
    the free physical pages."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None
