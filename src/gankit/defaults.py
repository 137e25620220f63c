"""The defaults that the API and the command line share, in one table (as torch-fidelity keeps
its own): ``evaluate``, ``Run.sample``/``interpolate``, ``load`` and ``augment`` take them as
their keyword defaults, and the CLI's flags show and use the same values. No torch here, so that
``gankit --help`` stays fast."""
from __future__ import annotations

# gankit eval / gankit.metrics.evaluate
METRICS = ("fid", "kid", "pr", "is", "classifier", "nn")
EVAL_N = 10_000          # generated samples: the protocol of Lucic et al. 2018 and of most papers' FID
REFERENCES = ("train", "test")
REFERENCE = "train"
# gankit sample / interpolate and Run.sample / Run.interpolate
SAMPLE_N = 64
STRIP_STEPS = 10
STRIP_ROWS = 8
SEED = 0
# which weights sample (gankit.load)
DEVICES = ("auto", "cpu", "cuda")
DEVICE = "auto"
GENERATORS = ("ema", "raw")
CHECKPOINTS = ("last", "best")
CHECKPOINT = "last"
# gankit augment
AUGMENT_RATIOS = (0.1, 0.25, 0.5, 1.0)
AUGMENT_SEEDS = (0, 1, 2)
AUGMENT_CONDITIONS = ("cas", "mix", "shifts")  # beside real-only, always trained: the baseline
