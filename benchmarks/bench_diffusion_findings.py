"""The findings of issue 24, measured with the memorization score of DiffusionDensity.

Three parts (``--parts transition membership nn``, all by default), on
dequantized digits (levels ``rint(16 X)``, ``n_levels=17``; M in nats per image):

``transition``
    Kadkhodaie et al. (ICLR 2024): denoisers trained on few images memorize
    them, on many they generalize. The same denoiser (MLP 256-256, the same
    number of optimizer steps ``--steps`` at every size) trained on the first
    N digits for N in ``--sizes``, MemorizationScorer cv=5: mean M and its
    0.95 quantile against the training-set size (0.8 N), the mean held-out
    log-likelihood, and the nearest-neighbour distance ratio of the first fold
    model's samples.
``membership``
    The canary run of ``validate_diffusion.py`` (20 random-level canaries,
    10 folds x 3 repeats; ``--cache`` shares it): the membership audit's AUC
    and TPR at 1 % FPR for the log-likelihoods (the score M is made of)
    against the per-sample denoising loss at log-SNR ``--lam``
    ``||eps - eps_hat(z_lam, lam)||^2`` under the same fold models, with
    ``--loss-draws`` fixed noise draws shared by all models and the
    dequantization at its midpoint (the signal of Carlini et al., 2023, and
    SecMI). Each signal is scored per (model, sample) pair in two ways: the
    raw threshold attack (the statistic itself: log p, or minus the loss) and
    the audit's LiRA calibration against the other repeats' models (the
    statistic in place of the log-likelihood). Over all pairs, and over the
    canaries' pairs against the digits'. And per sample: the AUC with which
    M, the loss gap (mean out-model loss minus mean in-model loss) and the
    out-model loss alone rank the canaries among the digits.
``nn``
    The nearest-neighbour test against M, as in the paper: samples of the
    first fold model of the canary run, the ratio d(x, nearest held-out) /
    d(x, nearest generated) per training row, its Spearman correlation and
    top-50 overlap with M, and how it ranks the canaries.

    nice -n 10 python benchmarks/bench_diffusion_findings.py [--parts ...]
        [--sizes 100 200 400 800 1797] [--steps 2000] [--cache FILE]

With ``--cache FILE`` given to both scripts, the canary run is fitted once.
On the shared 2-core machine the transition took 19 min (2-5 min a size),
the membership and NN parts 5 min after the canary run (15 min).
"""

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from skmem import DiffusionDensity, MemorizationScorer
from skmem._audit import membership_audit
from skmem._reliability import repeat_groups
from skmem.baselines import compare_scores, nearest_neighbor_distance_ratio
from skmem.datasets import load_digits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from validate_diffusion import canary_data, fit_canary_scorer  # noqa: E402


def denoising_losses(estimators, X, lam=0.0, n_draws=8, seed=0):
    """Per model and row, the mean of ``||eps - eps_hat(z_lam, lam)||^2``.

    ``z_lam = alpha y + sigma eps`` at log-SNR ``lam``, ``y`` the row as the
    model sees it (logit of the midpoint-dequantized levels with ``n_levels``),
    over ``n_draws`` noise vectors ``eps`` fixed by ``seed`` and shared by all
    models (a paired comparison). Returns (n_models, n_samples).
    """
    import torch

    from skmem.diffusion._objectives import alpha_sigma

    X = torch.as_tensor(np.asarray(X, dtype=np.float32))
    n, d = X.shape
    g = torch.Generator().manual_seed(seed)
    eps = torch.randn((n_draws, n, d), generator=g)
    lam_t = torch.full((n_draws * n,), float(lam))
    alpha, sigma = alpha_sigma(torch.tensor(float(lam)))
    out = []
    with torch.no_grad():
        for estimator in estimators:
            module = estimator.module_.eval()
            width = module.noise_width()
            midpoint = torch.zeros((n, width))  # ndtr(0) = 1/2: the midpoint
            y, _ = module._dequantize(X, midpoint)
            z = alpha * y[None] + sigma * eps
            eps_hat = module.denoise(z.reshape(-1, d), lam_t).reshape(n_draws, n, d)
            out.append(((eps - eps_hat) ** 2).sum(-1).mean(0).numpy())
    return np.array(out, dtype=np.float64)


def tpr_at(labels, scores, fpr_level=0.01):
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(tpr[fpr <= fpr_level].max())


def transition(args):
    X_all = np.rint(load_digits() * 16)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X_all))
    print(
        f"== Transition: MLP 256-256, {args.steps} optimizer steps of batch 64 at "
        f"every size, cv=5, {args.draws} draws; M in nats per image =="
    )
    print(
        f"{'N':>5} {'n_train':>7} {'epochs':>6} {'mean M':>8} {'se':>6} "
        f"{'q95 M':>7} {'M bits/dim':>10} {'held-out bpd':>12} "
        f"{'median NN ratio':>15} {'share NN>1':>10} {'secs':>5}"
    )
    for size in args.sizes:
        X = X_all[order[:size]]
        n_train = int(round(0.8 * size))
        epochs = max(1, math.ceil(args.steps / math.ceil(n_train / 64)))
        model = DiffusionDensity(
            hidden_layer_sizes=(256, 256),
            n_levels=17,
            max_epochs=epochs,
            n_mc_samples=args.draws,
        )
        start = time.perf_counter()
        scorer = MemorizationScorer(
            model, cv=5, n_repeats=1, n_jobs=1, random_state=0
        ).fit(X)
        M = scorer.memorization_scores_
        se = M.std(ddof=1) / np.sqrt(len(M))
        held_out = scorer.out_log_likelihood_.mean()
        bpd = -held_out / (64 * np.log(2))
        train = np.flatnonzero(scorer.train_masks_[0])
        test = np.flatnonzero(scorer.test_masks_[0])
        generated = scorer.estimators_[0].sample(len(train), random_state=0)
        ratio = nearest_neighbor_distance_ratio(X[train], generated, X[test])
        print(
            f"{size:>5} {len(train):>7} {epochs:>6} {M.mean():>8.2f} {se:>6.2f} "
            f"{np.quantile(M, 0.95):>7.2f} {M.mean() / (64 * np.log(2)):>10.4f} "
            f"{bpd:>12.3f} {np.median(ratio):>15.2f} {np.mean(ratio > 1):>10.2f} "
            f"{time.perf_counter() - start:>5.0f}",
            flush=True,
        )


def membership(args):
    X, is_canary = canary_data()
    scorer, seconds = fit_canary_scorer(args)
    print(
        f"\n== Membership signals: the canary run ({args.folds} folds x "
        f"{args.repeats} repeats, {args.canary_epochs} epochs, fit {seconds:.0f}s) =="
    )
    ll, train, test = scorer.log_likelihoods_, scorer.train_masks_, scorer.test_masks_
    groups = repeat_groups(test)
    loss = denoising_losses(
        scorer.estimators_, X, lam=args.lam, n_draws=args.loss_draws
    )
    pairs = train | test
    signals = {"log p (ELBO)": ll, f"-loss at lam={args.lam:g}": -loss}
    print(
        f"{'signal':>20} {'attack':>8} {'AUC all':>8} {'TPR@1% all':>10} "
        f"{'AUC canary pairs':>16} {'TPR@1% canary pairs':>19}"
    )
    for name, statistic in signals.items():
        audit = membership_audit(statistic, train, test, groups)
        for attack, scores in (("raw", statistic), ("LiRA", audit.scores)):
            row = []
            for columns in (np.ones(len(is_canary), bool), is_canary):
                keep = pairs & columns[None] & np.isfinite(scores)
                labels, values = train[keep], scores[keep]
                row += [roc_auc_score(labels, values), tpr_at(labels, values)]
            print(
                f"{name:>20} {attack:>8} {row[0]:>8.3f} {row[1]:>10.3f} "
                f"{row[2]:>16.3f} {row[3]:>19.3f}"
            )
    audit = scorer.membership_audit()
    print(
        f"scorer.membership_audit(): AUC {audit.auc:.3f}, TPR at 1% FPR "
        f"{audit.tpr_at_fpr[0.01]:.3f} (the LiRA row of log p)"
    )
    in_loss = np.where(train, loss, np.nan)
    out_loss = np.where(test, loss, np.nan)
    gap = np.nanmean(out_loss, 0) - np.nanmean(in_loss, 0)
    M = scorer.memorization_scores_
    print("per sample, AUC of the canaries among the digits:")
    for name, score in (
        ("M", M),
        ("loss gap (out - in)", gap),
        ("out-model loss", np.nanmean(out_loss, 0)),
    ):
        print(
            f"  {name:>20}: AUC {roc_auc_score(is_canary, score):.3f}, TPR at 1% FPR "
            f"{tpr_at(is_canary, score):.2f}"
        )


def nn(args):
    X, is_canary = canary_data()
    scorer, _ = fit_canary_scorer(args)
    print("\n== Nearest-neighbour test against M (canary run, fold model 0) ==")
    M = scorer.memorization_scores_
    train = np.flatnonzero(scorer.train_masks_[0])
    test = np.flatnonzero(scorer.test_masks_[0])
    generated = scorer.estimators_[0].sample(len(train), random_state=0)
    ratio = nearest_neighbor_distance_ratio(X[train], generated, X[test])
    agreement = compare_scores(M[train], ratio, top_k=50)
    canary = is_canary[train]
    top_m = np.argsort(-M[train])[: canary.sum()]
    top_r = np.argsort(-ratio)[: canary.sum()]
    print(
        f"{len(train)} training rows ({canary.sum()} canaries), {len(generated)} "
        f"samples: Spearman(M, NN ratio) {agreement.spearman:+.2f}, top-50 overlap "
        f"{agreement.top_k_overlap:.2f}"
    )
    print(
        f"canary AUC among the training rows: M {roc_auc_score(canary, M[train]):.3f}, "
        f"NN ratio {roc_auc_score(canary, ratio):.3f}; canaries in the top "
        f"{canary.sum()}: M {canary[top_m].sum()}, NN ratio {canary[top_r].sum()}"
    )
    print(
        f"NN ratio: median {np.median(ratio):.2f} over digits, "
        f"{np.median(ratio[canary]):.2f} over canaries; the nearest sample to a "
        f"canary is at median distance "
        f"{np.median(_nearest(X[train][canary], generated)):.1f} levels (L2), to a "
        f"digit {np.median(_nearest(X[train][~canary], generated)):.1f}"
    )


def _nearest(A, B):
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=1).fit(B).kneighbors(A)[0][:, 0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--parts",
        nargs="+",
        default=["transition", "membership", "nn"],
        choices=["transition", "membership", "nn"],
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[100, 200, 400, 800, 1797]
    )
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--draws", type=int, default=32)
    parser.add_argument("--lam", type=float, default=0.0)
    parser.add_argument("--loss-draws", type=int, default=8)
    # the canary run, as in validate_diffusion.py
    parser.add_argument("--canary-epochs", type=int, default=100)
    parser.add_argument("--canary-draws", type=int, default=32)
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache", help="joblib file of the fitted canary scorer")
    args = parser.parse_args()
    for part in args.parts:
        globals()[part](args)


if __name__ == "__main__":
    main()
