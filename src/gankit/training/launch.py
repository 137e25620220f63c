"""``gankit train|resume --nproc N``: torchrun's own launcher (``torch.distributed.launcher``)
started from gankit on this machine, with a failed or stopped job turned into one line."""
from __future__ import annotations

import logging
import os
import signal
import sys
import uuid

EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


def strip_nproc(argv: list[str]) -> list[str]:
    """``argv`` without ``--nproc N`` / ``--nproc=N`` (each rank runs the rest)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def launch(argv: list[str], nproc: int) -> int:
    """Run ``python -m gankit ARGV`` as ``nproc`` ranks of one job on this machine (like
    ``torchrun --standalone --nproc_per_node N -m gankit ARGV``); returns the exit code."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    # As torchrun does: split the cores between the ranks rather than oversubscribe them.
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    for name in [n for n in logging.root.manager.loggerDict if n.startswith("torch.distributed.elastic")]:
        logging.getLogger(name).setLevel(logging.CRITICAL)  # failure_code and the ranks say what happened
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=f"gankit-{uuid.uuid4().hex[:8]}",
                          rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0, monitor_interval=0.2)
    try:
        elastic_launch(config, sys.executable)("-m", "gankit", *argv)
        return 0
    except SignalException as err:  # Ctrl-C or SIGTERM reached the launcher: the ranks saved and stopped
        return EXIT_SIGNAL.get(err.sigval, 130)
    except ChildFailedError as err:
        return failure_code(err)


def failure_code(err) -> int:
    """The job's exit code. When the first rank to fail was killed by a signal, one line says so
    (a rank that stopped with an error has printed its own)."""
    rank, first = err.get_first_failure()
    if first.exitcode < 0:
        print(f"gankit: error: rank {rank} (pid {first.pid}) was killed by {first.signal_name()}; the job stopped and "
              "its last checkpoint is intact: continue with `gankit resume DIR --nproc N`", file=sys.stderr)
        return 1
    codes = [f.exitcode for f in err.failures.values()]
    stopped = [c for c in codes if c in EXIT_SIGNAL.values()]
    return stopped[0] if len(stopped) == len(codes) else max(codes)
