"""Cheaper importance sampling: RMSE of M against decoder passes, per scheme.

Trains one ensemble of 10 fold VAEs on binarized digits (a Bernoulli MLP VAE
as in the gallery: one hidden layer of 256, latent size 8, ``--epochs``
epochs) once, then draws the log importance weights
``log p(x | z) + log p(z) - log q(z | x)`` of ``--rows`` random digits (the M
of a row needs only that row's log p(x) under each model) for two disjoint
blocks of standard-normal draws, shared by every row and model:

- block A (``--reference`` draws) gives the reference log p(x) (its
  log-mean-exp) and the reference M;
- block B (``--draws``: i.i.d. draws, then their mirrors) is cut into
  replicates of K draws, from which each scheme estimates
  log p(x) and M; the RMSE of M is taken over rows and replicates.

Schemes (a decoder pass is one latent sample through the decoder, for one row
under one model):

- ``fixed``: K draws per row, the same draws for every model (common random
  numbers, as the same noise seed for every model would give);
- ``fixed, own noise``: K draws per row, different draws for each model (what
  skmem does today: each model has its own noise seed);
- ``jackknife``: the same K draws, with the delete-one jackknife correction of
  the importance-weighted bound's O(1/K) bias (Nowozin, 2018); no more passes;
- ``antithetic``: K / 2 draws and their mirrors -eps (same passes);
- ``control variate``: the K draws regressed out of the weights (E[eps] = 0);
- ``antithetic + control variate``: antithetic pairs, then their squares
  (E[eps**2 - 1] = 0) regressed out (K >= 64);
- ``adaptive``: a pilot of K draws per row and model, then more draws (up to
  ``16 K``) for the rows whose estimated standard error of log p(x), from the
  spread of the pilot's weights, exceeds ``--tolerance`` times the pilot's
  median standard error; passes are counted per row;
- ``split K_out/K_in``: K_out draws for the models that held the row out, K_in
  for those that trained on it; ``, own noise`` with each model's own draws,
  which is what ``VAEDensity(n_importance_samples=K_out,
  n_importance_samples_seen=K_in)`` computes (every fold model has its own
  noise seed). With one repeat of 10 folds, M compares one
  out-model with the mean of nine in-models, so the out-model's error counts
  nine times more; the variance of M for a budget is least near K_out = 9 K_in
  (with equal spreads), about 2.8x below equal allocation. ``+ jackknife``
  also removes the O(1/K) bias, which no longer cancels between U and V when
  their K differ;
- the quantiles of M that a memorization curve reports, at each K.

The encoder runs once per row and model (not per draw) for the MLP VAE, so
reusing it across checkpoints saves no decoder pass; its share of the work is
printed. A second ensemble, trained with another seed and scored with 256
draws, gives M's own noise between seeds, for scale.

    python benchmarks/bench_importance.py [--epochs 30] [--reference 8192]
        [--draws 4096] [--rows 600]

Printed per scheme: decoder passes, their ratio to 256 draws per row with each
model's own noise (skmem's default), RMSE and mean error (bias) of M against
the reference, RMSE of log p(x), and the errors of the 50/90/99 % quantiles of
M that a memorization curve reports. Timings are not the point: every figure
is a count of decoder passes or an error in nats, deterministic for given
seeds. ``--cache FILE.npz`` keeps the log weights (about 100 MB) so that the
analysis can be rerun without the scoring (16 minutes on the shared 2-core machine).
"""

import argparse
import math
import os
import time

import numpy as np

from skmem import MemorizationScorer, VAEDensity, memorization_scores
from skmem.datasets import load_digits


def log_weights(module, X, noise, chunk=256):
    """(N, S) float32 log importance weights of rows X under a VAEModule."""
    import torch

    from skmem.vae._model import _LOG_2PI

    x = torch.as_tensor(X, dtype=torch.float32)
    out = []
    with torch.inference_mode():
        mu, log_var = module.encode_rows(x[None])  # (1, N, L)
        mu, log_var = mu[0, :, None, :], log_var[0, :, None, :]
        for start in range(0, noise.shape[0], chunk):
            eps = noise[start : start + chunk][None]  # (1, s, L)
            z = mu + (0.5 * log_var).exp() * eps  # (N, s, L)
            log_q = -0.5 * (_LOG_2PI + log_var + eps**2).sum(-1)
            log_prior = -0.5 * (_LOG_2PI + z**2).sum(-1)
            log_px = module.log_px_given_z(x[None, :, None, :], z[None])[0]
            out.append((log_px + log_prior - log_q).float())
    return torch.cat(out, dim=1).numpy()


def logmeanexp(lw, axis=-1):
    top = lw.max(axis=axis, keepdims=True)
    s = np.exp(lw - top).mean(axis=axis, keepdims=True)
    return np.squeeze(np.log(s) + top, axis=axis)


def jackknife(lw):
    """Delete-one jackknife of the log-mean-exp over the last axis."""
    K = lw.shape[-1]
    top = lw.max(axis=-1, keepdims=True)
    w = np.exp(lw - top)
    total = w.sum(-1, keepdims=True)
    full = np.log(total[..., 0] / K) + top[..., 0]
    # Leave-one-out sums; clipped where one weight carries all the mass.
    loo = np.maximum(total - w, total * 1e-12)
    loo_mean = (np.log(loo / (K - 1)) + top).mean(-1)
    return K * full - (K - 1) * loo_mean


def control_variate(lw, eps):
    """Mean weight with the draws themselves as control variates (E[eps] = 0).

    Least-squares regression of the weights on the draws over the same K
    samples; where the corrected mean is not positive, the plain mean.
    """
    top = lw.max(axis=-1, keepdims=True)
    w = np.exp(lw - top)  # (..., K)
    c = eps - eps.mean(0)  # (K, L)
    beta = np.linalg.solve(c.T @ c, c.T @ np.moveaxis(w, -1, 0).reshape(len(c), -1))
    shift = (eps.mean(0) @ beta).reshape(w.shape[:-1])
    mean = w.mean(-1)
    corrected = np.where(mean - shift > 0, mean - shift, mean)
    return np.log(corrected) + top[..., 0]


def antithetic_control_variate(lw, eps):
    """Antithetic pairs (K / 2 draws eps and -eps, in that order on the last
    axis), then the even part of the draws, eps**2 - 1, as control variates."""
    top = lw.max(axis=-1, keepdims=True)
    w = np.exp(lw - top)
    h = w.shape[-1] // 2
    pair = 0.5 * (w[..., :h] + w[..., h:])  # (..., K/2)
    c = eps**2 - 1.0
    c0 = c - c.mean(0)
    beta = np.linalg.lstsq(c0, np.moveaxis(pair, -1, 0).reshape(h, -1), rcond=None)[0]
    shift = (c.mean(0) @ beta).reshape(pair.shape[:-1])
    mean = pair.mean(-1)
    corrected = np.where(mean - shift > 0, mean - shift, mean)
    return np.log(corrected) + top[..., 0]


def rel_variance(lw):
    """var(w) / mean(w)^2 over the last axis: K times the delta-method
    variance of log-mean-exp."""
    w = np.exp(lw - lw.max(axis=-1, keepdims=True))
    return w.var(-1) / w.mean(-1) ** 2


def m_scores(ll, train, test):
    return memorization_scores(ll.astype(np.float64), train, test)


def rmse(a, b):
    d = (a - b)[np.isfinite(a - b)]
    return float(np.sqrt(np.mean(d**2)))


def saved_reference(path):
    with np.load(path) as saved:
        return saved["reference"]


def compute(X, args):
    """Train two ensembles; log weights of ``--rows`` rows under the first."""
    import torch

    N = X.shape[0]
    t0 = time.perf_counter()

    def ensemble(seed, n_importance_samples):
        vae = VAEDensity(
            latent_dim=8,
            hidden_layer_sizes=(256,),
            max_epochs=args.epochs,
            n_importance_samples=n_importance_samples,
        )
        return MemorizationScorer(vae, cv=10, random_state=seed).fit(X)

    scorer = ensemble(0, 1)
    other = ensemble(1, 256)
    train, test = scorer.train_masks_, scorer.test_masks_
    E = len(scorer.estimators_)
    print(
        f"trained 2 x {E} VAEs, {args.epochs} epochs: {time.perf_counter() - t0:.0f} s"
    )
    seeds = {m.noise_seed_ for m in scorer.estimators_}
    print(f"distinct noise seeds among the {E} models today: {len(seeds)}")

    S, B = args.reference, args.draws
    L = scorer.estimators_[0].module_.latent_dim
    g = torch.Generator().manual_seed(12345)
    noise_a = torch.randn((S, L), generator=g)
    half = torch.randn((B // 2, L), generator=g)
    noise_b = torch.cat([half, -half])  # i.i.d. first half, its mirror second
    rows_idx = np.sort(np.random.default_rng(0).permutation(N)[: args.rows])
    Xs, train, test = X[rows_idx], train[:, rows_idx], test[:, rows_idx]
    n = len(rows_idx)
    t0 = time.perf_counter()
    ref = np.empty((E, n))
    LW = np.empty((E, n, B), dtype=np.float32)
    for k, est in enumerate(scorer.estimators_):
        ref[k] = logmeanexp(log_weights(est.module_, Xs, noise_a).astype(np.float64))
        LW[k] = log_weights(est.module_, Xs, noise_b)
    print(
        f"{n} rows, {S} + {B} draws per row and model: {time.perf_counter() - t0:.0f} s"
    )
    other_M = other.memorization_scores_[rows_idx]
    return ref, LW, train, test, other_M, noise_b.numpy()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--reference", type=int, default=8192)
    p.add_argument("--draws", type=int, default=4096)
    p.add_argument("--rows", type=int, default=600)
    p.add_argument("--tolerance", type=float, nargs="+", default=[1.0, 1.5, 2.0])
    p.add_argument("--max-replicates", type=int, default=16)
    p.add_argument("--cache", help="an .npz file: save the log weights, or load them")
    args = p.parse_args()

    X = load_digits(binarize=True)
    if args.cache and os.path.exists(args.cache):
        with np.load(args.cache) as saved:
            ref, LW, train, test, other_M, noise_b = (
                saved[k] for k in ("ref", "LW", "train", "test", "other_M", "noise_b")
            )
        E, n, B = LW.shape
        S = int(saved_reference(args.cache))
        print(f"log weights from {args.cache}")
    else:
        ref, LW, train, test, other_M, noise_b = compute(X, args)
        E, n, B = LW.shape
        S = args.reference
        if args.cache:
            np.savez(
                args.cache, ref=ref, LW=LW, train=train, test=test,
                other_M=other_M, noise_b=noise_b, reference=S,
            )  # fmt: skip
    M_ref = m_scores(ref, train, test)
    spread = np.sqrt(np.log1p(rel_variance(LW[:, :, : B // 2].astype(np.float64))))
    print(
        f"reference M: mean {np.nanmean(M_ref):.3f}, sd {np.nanstd(M_ref):.3f} nats;"
        f" log-weight spread per row (lognormal sd): median {np.median(spread):.2f},"
        f" 10-90 % {np.quantile(spread, 0.1):.2f}-{np.quantile(spread, 0.9):.2f}"
    )
    # M's own noise between two seeds of the whole ensemble, both at 256 draws.
    M_256 = m_scores(logmeanexp(LW[:, :, :256].astype(np.float64)), train, test)
    seed_sd = rmse(other_M, M_256) / math.sqrt(2)
    print(f"M's noise between training seeds (256 draws): sd {seed_sd:.3f} nats/row")
    print(
        f"models per row: {train.sum(0).mean():.0f} trained on it (in), "
        f"{(~train).sum(0).mean():.0f} held it out (out)"
    )

    rng = np.random.default_rng(0)
    perms = [rng.permutation(B // 2) for _ in range(E)]  # own noise per model
    eps = noise_b[: B // 2].astype(np.float64)
    qs = [0.5, 0.9, 0.99]
    q_ref = np.nanquantile(M_ref, qs)
    rows = []

    def record(name, K, passes, M_list, ll_list=None):
        err = np.sqrt(np.mean([rmse(M, M_ref) ** 2 for M in M_list]))
        bias = np.nanmean([np.nanmean(M - M_ref) for M in M_list])
        q_err = np.sqrt(
            np.mean([(np.nanquantile(M, qs) - q_ref) ** 2 for M in M_list], axis=0)
        )
        lp = np.sqrt(np.mean([rmse(ll, ref) ** 2 for ll in ll_list]))
        rows.append((name, K, passes, err, bias, lp, q_err))

    Ks = [K for K in (16, 32, 64, 128, 256, 512, 1024, 2048) if K <= B // 2]
    for K in Ks:
        R = min(B // 2 // K, args.max_replicates)
        schemes = {
            "fixed": [],
            "fixed, own noise": [],
            "jackknife": [],
            "antithetic": [],
            "control variate": [],
        }
        if K >= 64:
            schemes["antithetic + control variate"] = []
        for r in range(R):
            cols = np.arange(r * K, (r + 1) * K)
            block = LW[:, :, cols].astype(np.float64)
            mirror = np.concatenate([cols[: K // 2], B // 2 + cols[: K // 2]])
            schemes["fixed"].append(logmeanexp(block))
            schemes["fixed, own noise"].append(
                np.stack(
                    [
                        logmeanexp(LW[k][:, perms[k][cols]].astype(np.float64))
                        for k in range(E)
                    ]
                )
            )
            schemes["jackknife"].append(jackknife(block))
            schemes["antithetic"].append(
                logmeanexp(LW[:, :, mirror].astype(np.float64))
            )
            schemes["control variate"].append(control_variate(block, eps[cols]))
            if K >= 64:
                schemes["antithetic + control variate"].append(
                    antithetic_control_variate(
                        LW[:, :, mirror].astype(np.float64), eps[cols[: K // 2]]
                    )
                )
        for name, lls in schemes.items():
            Ms = [m_scores(ll, train, test) for ll in lls]
            record(name, K, E * n * K, Ms, lls)

    for K0 in (K0 for K0 in (32, 64, 128) if 16 * K0 <= B // 2):
        for tol in args.tolerance:
            R = min(B // 2 // (16 * K0), args.max_replicates)
            Ms, lls, passes = [], [], 0
            for r in range(R):
                base = r * 16 * K0
                pilot = LW[:, :, base : base + K0].astype(np.float64)
                se = np.sqrt(rel_variance(pilot) / K0)  # (E, n)
                target = tol * np.median(se)
                # Draws needed for the standard error to reach the target.
                need = np.ceil(K0 * (se / target) ** 2)
                K_row = np.clip(2 ** np.ceil(np.log2(need / K0)), 1, 16) * K0
                ll = np.empty((E, n))
                for k_factor in np.unique(K_row):
                    sel = K_row == k_factor
                    k = int(k_factor)
                    block = LW[:, :, base : base + k].astype(np.float64)
                    ll[sel] = logmeanexp(block)[sel]
                passes += K_row.sum()
                lls.append(ll)
                Ms.append(m_scores(ll, train, test))
            record(f"adaptive K0={K0} tol={tol}", K0, passes / R, Ms, lls)

    pairs = ((256, 32), (512, 32), (512, 64), (768, 64), (1024, 64), (1024, 128))
    for K_out, K_in in pairs:
        if K_out > B // 2:
            continue
        R = min(B // 2 // K_out, args.max_replicates)
        plain, own, jack, lls, lls_own = [], [], [], [], []
        for r in range(R):
            cols = np.arange(r * K_out, (r + 1) * K_out)
            out_block = LW[:, :, cols].astype(np.float64)
            in_block = out_block[:, :, :K_in]
            ll = np.where(train, logmeanexp(in_block), logmeanexp(out_block))
            lls.append(ll)
            plain.append(m_scores(ll, train, test))
            ll_j = np.where(train, jackknife(in_block), jackknife(out_block))
            jack.append(m_scores(ll_j, train, test))
            # Each model its own draws, as VAEDensity(n_importance_samples=K_out,
            # n_importance_samples_seen=K_in) gives.
            own_block = np.stack(
                [LW[k][:, perms[k][cols]].astype(np.float64) for k in range(E)]
            )
            ll_own = np.where(
                train, logmeanexp(own_block[:, :, :K_in]), logmeanexp(own_block)
            )
            lls_own.append(ll_own)
            own.append(m_scores(ll_own, train, test))
        passes = K_in * train.sum() + K_out * (~train).sum()
        record(f"split {K_out}/{K_in}", K_in, passes, plain, lls)
        record(f"split {K_out}/{K_in}, own noise", K_in, passes, own, lls_own)
        record(f"split {K_out}/{K_in} + jackknife", K_in, passes, jack, lls)

    base = next(r for r in rows if r[0] == "fixed, own noise" and r[1] == 256)
    print(
        f"\nRMSE of M against the {S}-draw reference; passes per {E} models x {n} rows;"
        " ratio = passes of 256 fixed (own noise: skmem's default) / passes"
        " (higher is cheaper)"
    )
    print(
        f"{'scheme':28s} {'K':>5s} {'passes':>10s} {'ratio':>6s} {'RMSE M':>7s}"
        f" {'bias M':>7s} {'RMSE logp':>9s}  quantile errors of M (50/90/99 %)"
    )
    for name, K, passes, err, bias, lp, q_err in rows:
        print(
            f"{name:28s} {K:5d} {passes:10.3g} {base[2] / passes:6.2f} {err:7.4f}"
            f" {bias:+7.4f}"
            f" {lp:9.4f}  " + " ".join(f"{q:.4f}" for q in q_err)
        )
    # Encoder versus decoder work, per row and model, for this MLP VAE.
    D, H, L = X.shape[1], 256, noise_b.shape[1]
    enc = 2 * (D * H + H * 2 * L)
    dec = 2 * (L * H + H * D)
    print(
        f"\nencoder work per row and model = {enc / dec:.1f} decoder passes; "
        f"with 256 draws the encoder is {enc / (enc + 256 * dec):.1%} of scoring"
    )


if __name__ == "__main__":
    main()
