"""Runs under joblib's dask backend give the scores of n_jobs=1."""

import numpy as np
import pytest
from joblib import parallel_backend
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import KFold

from skmem import MemorizationScorer

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
    )
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


def test_dask_backend_matches_n_jobs_1(client, monkeypatch):
    X = np.random.RandomState(0).normal(size=(400, 4))
    cv = KFold(6, shuffle=True, random_state=0)
    scorer = MemorizationScorer(GaussianMixture(3), cv=cv, random_state=0)
    reference = scorer.fit(X).memorization_scores_.copy()

    sent = []
    scatter = distributed.Client.scatter

    def counting_scatter(self, data, *args, **kwargs):
        if isinstance(data, np.ndarray) and data.shape == X.shape:
            sent.append(data)
        return scatter(self, data, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "scatter", counting_scatter)
    with parallel_backend("dask"):
        distributed_scores = scorer.fit(X).memorization_scores_
    np.testing.assert_array_equal(distributed_scores, reference)
    # X went to the cluster once for the six models, not with every task.
    assert len(sent) == 1
    assert len(client.scheduler_info()["workers"]) == 2
