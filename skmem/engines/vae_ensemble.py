"""Train all fold VAEs at once, as one batched ensemble.

Every layer of the ensemble holds the stacked weights of all the models in a
group and runs as one batched matrix product (``torch.baddbmm``). Each model
walks its own training rows in its own shuffled order, draws its own noise
from its own generator and steps its own Adam state, with the seed a
standalone ``VAEDensity`` clone would get: the standalone estimator runs the
same code with one model. So the models are those the generic engine would
fit, up to floating-point rounding of the batched products. On a CPU the gain
comes from paying torch's per-operation overhead once for all models; on a GPU
from filling the device.
"""

import time

import numpy as np
from joblib import effective_n_jobs
from sklearn import get_config
from sklearn.base import clone

from ._base import EngineResult, check_log_likelihoods
from .generic import SeparateModelsEngine, cached_models


class VAEEnsembleEngine(SeparateModelsEngine):
    """Batched engine for :class:`skmem.VAEDensity`.

    Parameters
    ----------
    n_jobs : int or None
        Threads for torch's CPU operations (``None`` means 1).
    verbose : int
    cache : ModelCache or None
        Cached models are loaded instead of trained; the others are trained
        together and stored.
    """

    name = "vae_ensemble"

    def _group_size(self, estimator, n_models, n_features):
        """Models trained and evaluated together, within ``working_memory``."""
        hidden = estimator.training_options()["hidden_layer_sizes"]
        widths = [n_features, *hidden, 2 * estimator.latent_dim, 2 * n_features]
        n_params = sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))
        # float32 parameters, gradients and two Adam moments, plus activations.
        train_bytes = 4 * (4 * n_params + 3 * estimator.batch_size * sum(widths))
        # Evaluation of at least one row with all its importance samples (with
        # room to spare: activations are float32).
        eval_bytes = 8 * 4 * estimator.n_importance_samples * max(widths)
        budget = get_config()["working_memory"] * 2**20
        return int(max(1, min(n_models, budget // max(train_bytes, eval_bytes))))

    def compute(self, estimator, X, plan):
        from ..vae._estimator import check_likelihood_input, torch_model, torch_seed

        check_likelihood_input(X, estimator.likelihood)
        device = torch_model().resolve_device(estimator.device)
        n_models, n_samples = plan.n_models, plan.n_samples
        log_likelihoods = np.empty((n_models, n_samples))
        estimators = [None] * n_models
        keys, cached, todo = cached_models(self.cache, estimator, X, plan, self.verbose)
        for k, (member, row) in cached.items():
            estimators[k], log_likelihoods[k] = member, row
        size = self._group_size(estimator, max(len(todo), 1), X.shape[1])
        groups = [np.asarray(todo[i : i + size]) for i in range(0, len(todo), size)]
        start = time.perf_counter()
        for g, group in enumerate(groups):
            # n_jobs sets torch's threads; in this configuration per-model results
            # came out identical for one thread and two.
            members, curves, noise_seeds, rows = _train_and_score(
                estimator,
                X,
                [plan.train_indices(k) for k in group],
                # The torch seed a VAEDensity(random_state=seed) clone would use.
                [torch_seed(int(plan.seeds[k])) for k in group],
                device,
                effective_n_jobs(self.n_jobs),
                self.verbose,
                f"[MemorizationScorer] VAE group {g + 1}/{len(groups)}: ",
            )
            for j, k in enumerate(group):
                log_likelihoods[k] = check_log_likelihoods(rows[j], n_samples, k)
                member = clone(estimator).set_params(random_state=int(plan.seeds[k]))
                member.set_fitted(members[j], curves[j], noise_seeds[j], device)
                member.n_features_in_ = X.shape[1]
                estimators[k] = member
                if self.cache is not None:
                    self.cache.store(keys[k], member, log_likelihoods[k])
            if self.verbose:
                print(
                    f"[MemorizationScorer] group {g + 1}/{len(groups)} of "
                    f"{len(group)} VAEs trained and scored "
                    f"({time.perf_counter() - start:.1f}s elapsed)",
                    flush=True,
                )
        self.estimators_ = estimators
        return EngineResult(log_likelihoods=log_likelihoods, estimators=estimators)


def _train_and_score(
    estimator, X, train_indices, seeds, device, n_threads, verbose, prefix
):
    """Train one ensemble and score every row under each of its members."""
    from ..vae._estimator import evaluation_elements, torch_model

    model = torch_model()
    with model.torch_threads(n_threads):
        module, curves, noise_seeds = model.train_ensemble(
            X.astype(np.float32),
            train_indices,
            seeds,
            device=device,
            verbose=verbose,
            log_prefix=prefix,
            **estimator.training_options(),
        )
        noise = model.importance_noise(
            noise_seeds, estimator.n_importance_samples, estimator.latent_dim
        )
        rows = model.log_likelihood(
            module, X, noise, device=device, max_elements=evaluation_elements()
        )
    members = [module.member(j) for j in range(len(seeds))]
    return members, curves, noise_seeds, rows
