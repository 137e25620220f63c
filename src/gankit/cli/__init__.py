"""The ``gankit`` command (SPEC §7). ``parser`` defines the sub-commands and flags, ``commands``
what each does. Every user error is one line on stderr (exit 2); a run stopped by Ctrl-C/SIGTERM
has saved its checkpoint. Only torch-free modules are imported here and in ``parser``, so that
``gankit --help`` answers at once."""
from __future__ import annotations

import logging
import sys
from typing import Optional, Sequence

from gankit.cli.commands import EXIT_SIGNAL, EXIT_USAGE, rank
from gankit.cli.parser import build_parser
from gankit.errors import GankitError

__all__ = ["build_parser", "main"]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``gankit`` console script and ``python -m gankit``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="gankit: %(levelname)s: %(message)s")
    try:
        return args.func(args)
    except GankitError as err:
        where = f" (rank {rank()})" if rank() else ""
        print(f"gankit: error{where}: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("gankit: interrupted (the last checkpoint is intact)", file=sys.stderr)
        return EXIT_SIGNAL["SIGINT"]


if __name__ == "__main__":
    sys.exit(main())
