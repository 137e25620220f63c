"""The one reader of gankit's JSON-lines logs (``metrics.jsonl``, ``eval_history.jsonl``): a row
per line, appended and flushed as training goes, so a kill can leave a torn last line — skipped,
like any line that is not a JSON object."""
from __future__ import annotations

import json
from pathlib import Path


def read_jsonl(path: Path) -> list[dict]:
    """Every complete row of ``path`` (none if it does not exist)."""
    rows = []
    if Path(path).exists():
        for line in Path(path).read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                rows.append(row)
    return rows
