"""The paper's BinarizedMNIST protocol, or a fraction of it, through the torch engine.

The protocol (van den Burg & Williams 2021): 60,000 x 784 binarized images, an
MLP VAE 784-512-256-16 with a Bernoulli decoder, 10 folds x 10 repeats = 100
models, 100 epochs each, batch 64, Adam at 1e-3, log p(x) of every image under
every model by importance sampling with 256 samples every 5 epochs.

``--scale s`` takes the fraction s of the rows, of the repeats (so of the
models, at least one repeat of 10) and of the epochs (at least one), with
checkpoints as often relative to the run's length. The run prints each phase's
time, the achieved TFLOP/s of training and of scoring (FLOPs counted
analytically for the MLP VAE) against the device's float32 and TF32 peak, the
host (whole process tree) and device memory high-water marks, and projects the
full protocol's time from the measured rates.

    python benchmarks/bench_paper.py --scale 0.01                 # CPU, ~1 min
    python benchmarks/bench_paper.py --device cuda --scale 0.05   # GPU, first
    python benchmarks/bench_paper.py --device cuda                # the full run

MNIST comes from ``skmem.datasets.fetch_mnist(download_if_missing=False)``
when it is on disk; otherwise the run uses synthetic MNIST-shaped binary data
(same shape, same cost per row).
"""

import argparse
import math
import time

import numpy as np
from bench_scale import PeakMemory  # the process tree's resident memory

FULL = dict(n_rows=60_000, n_repeats=10, max_epochs=100)
N_FOLDS, HIDDEN, LATENT = 10, (512, 256), 16
#: Dense float32 and TF32 (tensor-core, dense) peaks in TFLOP/s, by device name.
PEAKS = {
    "H200": (67.0, 495.0),
    "H100 SXM": (67.0, 495.0),
    "H100 PCIe": (51.0, 378.0),
    "H100": (67.0, 495.0),
    "A100": (19.5, 156.0),
    "L40S": (91.6, 183.0),
    "A10": (31.2, 62.5),
    "V100": (15.7, 15.7),
}


def vae_flops(n_features, samples):
    """(training FLOP per row and epoch, scoring FLOP per row and pass).

    Matrix products only (2 per multiply-add): the encoder D-512-256-2L, the
    decoder L-256-512-D; a training step is a forward and a backward pass
    (3x the forward) with one latent sample, a scoring pass runs the encoder
    once and the decoder once per importance sample.
    """
    enc = [n_features, *HIDDEN, 2 * LATENT]
    dec = [LATENT, *HIDDEN[::-1], n_features]

    def mlp(sizes):
        return sum(2 * a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))

    return 3 * (mlp(enc) + mlp(dec)), mlp(enc) + samples * mlp(dec)


def load_data(dataset, n_rows, seed=0):
    """``(X, name)``: binarized MNIST rows if on disk, else synthetic ones."""
    if dataset == "mnist":
        try:
            from skmem.datasets import fetch_mnist

            X = fetch_mnist(download_if_missing=False, binarize=True, random_state=0)
            X = X[0] if isinstance(X, tuple) else X
            rows = np.random.RandomState(seed).permutation(len(X))[:n_rows]
            return np.asarray(X, dtype=np.float32)[rows], "MNIST (binarized)"
        except (ImportError, OSError, TypeError, ValueError) as exc:
            print(f"MNIST not available ({type(exc).__name__}: {exc}); synthetic")
    # 10 smooth 28x28 prototypes, each row one of them with pixel noise.
    rng = np.random.RandomState(seed)
    grid = np.linspace(-1, 1, 28)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    centers = rng.uniform(-0.5, 0.5, size=(10, 3, 2))
    protos = np.zeros((10, 784))
    for k in range(10):
        d = np.min(
            [np.hypot(yy - cy, xx - cx) for cy, cx in centers[k]], axis=0
        ).ravel()
        protos[k] = np.clip(1.2 * np.exp(-(d**2) / 0.08) - 0.1, 0.02, 0.98)
    p = protos[rng.randint(10, size=n_rows)]
    X = (rng.uniform(size=p.shape) < p).astype(np.float32)
    return X, "synthetic MNIST-shaped binary"


class PhaseTimer:
    """Times and FLOPs of the training and scoring passes inside the engine."""

    def __init__(self, train_flop, score_flop, device):
        self.train_flop, self.score_flop = train_flop, score_flop
        self.device = device
        self.seconds = {"train": 0.0, "score": 0.0}
        self.flop = {"train": 0.0, "score": 0.0}
        self.passes = 0

    def _sync(self):
        import torch

        if self.device.startswith("cuda"):
            torch.cuda.synchronize()

    def install(self, training):
        train, score = training.train, training._score_group
        timer = self

        def timed_train(X_t, train_indices, seeds, **kwargs):
            timer._sync()
            start, scored = time.perf_counter(), timer.seconds["score"]
            out = train(X_t, train_indices, seeds, **kwargs)
            timer._sync()
            inner = timer.seconds["score"] - scored  # checkpoints inside train
            timer.seconds["train"] += time.perf_counter() - start - inner
            rows = sum(len(i) for i in train_indices)
            timer.flop["train"] += timer.train_flop * rows * kwargs["max_epochs"]
            return out

        def timed_score(X, group, noise_seeds, **kwargs):
            timer._sync()
            start = time.perf_counter()
            out = score(X, group, noise_seeds, **kwargs)
            timer.seconds["score"] += time.perf_counter() - start
            timer.flop["score"] += timer.score_flop * group.n_models * len(X)
            timer.passes += group.n_models
            return out

        training.train, training._score_group = timed_train, timed_score


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["mnist", "synthetic"], default="mnist")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, auto")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument(
        "--checkpoints-every",
        type=int,
        default=5,
        help="epochs of the full protocol between scoring passes; 0: final only",
    )
    parser.add_argument("--samples", type=int, default=256, help="importance samples")
    parser.add_argument(
        "--precision", choices=["float32", "tf32", "bfloat16"], default="float32"
    )
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not 0 < args.scale <= 1:
        parser.error("--scale must be in (0, 1]")

    import torch

    import skmem.torch._training as training
    from skmem import MemorizationScorer, VAEDensity

    n_rows = max(N_FOLDS * 2, round(FULL["n_rows"] * args.scale))
    n_repeats = max(1, round(FULL["n_repeats"] * args.scale))
    epochs = max(1, round(FULL["max_epochs"] * args.scale))
    checkpoints = None
    if args.checkpoints_every:
        every = max(1, round(args.checkpoints_every * epochs / FULL["max_epochs"]))
        checkpoints = list(range(every, epochs + 1, every))

    clock = {}
    start = time.perf_counter()
    X, name = load_data(args.dataset, n_rows, args.seed)
    clock["data"] = time.perf_counter() - start
    train_flop, score_flop = vae_flops(X.shape[1], args.samples)
    timer = PhaseTimer(train_flop, score_flop, args.device)
    timer.install(training)
    vae = VAEDensity(
        latent_dim=LATENT,
        hidden_layer_sizes=HIDDEN,
        max_epochs=epochs,
        batch_size=64,
        learning_rate=1e-3,
        n_importance_samples=args.samples,
        device=args.device,
        checkpoints=checkpoints,
        precision=args.precision,
        random_state=args.seed,
    )
    scorer = MemorizationScorer(
        vae,
        cv=N_FOLDS,
        n_repeats=n_repeats,
        engine="torch",
        n_jobs=args.n_jobs,
        random_state=args.seed,
        verbose=1,
    )
    device = training.resolve_device(args.device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    print(
        f"{name}: {X.shape[0]:,} x {X.shape[1]}; {N_FOLDS * n_repeats} models "
        f"({N_FOLDS} folds x {n_repeats} repeats), {epochs} epochs, "
        f"{args.samples} importance samples, checkpoints {checkpoints}, "
        f"device {device}, precision {args.precision} (scale {args.scale})",
        flush=True,
    )
    with PeakMemory() as memory:
        start, cpu = time.perf_counter(), time.process_time()
        scorer.fit(X)
        clock["fit"] = time.perf_counter() - start
        cpu = time.process_time() - cpu
    clock["train"], clock["score"] = timer.seconds["train"], timer.seconds["score"]
    clock["other"] = clock["fit"] - clock["train"] - clock["score"]

    peak32, peak_tf32 = _peaks(device)
    print("\nphase     seconds   TFLOP    TFLOP/s  % fp32 peak  % TF32 peak")
    for phase in ("data", "train", "score", "other", "fit"):
        flop = timer.flop.get(phase, 0.0)
        rate = flop / clock[phase] / 1e12 if flop and clock[phase] > 0 else None
        line = f"{phase:<8}{clock[phase]:9.1f}"
        if rate is not None:
            line += f"{flop / 1e12:8.2f}{rate:11.3f}"
            if peak32:
                line += f"{100 * rate / peak32:12.1f}%{100 * rate / peak_tf32:12.1f}%"
        print(line)
    print(
        f"(fit: {cpu:.1f} s of CPU time in this process for {clock['fit']:.1f} s "
        "of wall time; far less than the cores would allow means a shared machine)"
    )
    if not peak32:
        print("(no known peak for this device; the CPU's depends on its cores)")
    print(
        f"\nhost memory high-water mark (process tree): "
        f"{memory.peak / 2**30:.2f} GiB; log-likelihood matrices "
        f"{(scorer.log_likelihoods_.nbytes * (len(checkpoints or []) + 1)) / 2**20:.1f}"
        " MiB"
    )
    if device.type == "cuda":
        print(
            f"device memory high-water mark: "
            f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB of "
            f"{torch.cuda.get_device_properties(device).total_memory / 2**30:.0f} GiB"
        )
    _project(clock, timer, X.shape[1], args)


def _peaks(device):
    import torch

    if device.type != "cuda":
        return None, None
    name = torch.cuda.get_device_name(device)
    for key, peaks in PEAKS.items():
        if key in name:
            return peaks
    return None, None


def _project(clock, timer, n_features, args):
    """The full protocol's time from this run's measured rates (FLOP/s)."""
    train_flop, score_flop = vae_flops(n_features, args.samples)
    n_models = N_FOLDS * FULL["n_repeats"]
    n_train = FULL["n_rows"] * (N_FOLDS - 1) // N_FOLDS
    full_train = train_flop * n_train * FULL["max_epochs"] * n_models
    one_pass = score_flop * FULL["n_rows"] * n_models
    train_rate = timer.flop["train"] / max(clock["train"], 1e-9)
    score_rate = timer.flop["score"] / max(clock["score"], 1e-9)
    train_s = full_train / train_rate
    every = args.checkpoints_every or FULL["max_epochs"]
    n_passes = math.ceil(FULL["max_epochs"] / every)
    print(
        f"\nprojected full protocol (100 models, 60,000 rows, 100 epochs, "
        f"{args.samples} samples) at this run's rates:"
    )
    print(f"  training        {train_s / 3600:8.2f} h ({full_train:.2e} FLOP)")
    runs = (("final scores only", 1), (f"{n_passes} checkpoints", n_passes))
    for label, passes in runs:
        total = train_s + passes * one_pass / score_rate
        print(
            f"  with {label:<17}{total / 3600:8.2f} h "
            f"(scoring {passes * one_pass:.2e} FLOP)"
        )
    print(
        "  (a small run keeps a GPU less busy than the full one: on a GPU the "
        "projection is an upper bound; measured, not projected, only at --scale 1)"
    )


if __name__ == "__main__":
    main()
