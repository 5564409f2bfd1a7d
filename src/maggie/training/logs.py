"""Run logs: one CSV per record kind (``train.csv``, ``val.csv``), a JSONL of everything, and
TensorBoard scalars when the ``tensorboard`` package is installed and requested."""

from __future__ import annotations

import csv
import json
import logging
import math
from pathlib import Path
from typing import Any

__all__ = ["RunLogger"]

logger = logging.getLogger(__name__)


class RunLogger:
    """Append-only scalar logger; only the main process should create an enabled one.

    A CSV's columns are fixed by its first row (or the existing header when a resumed run
    appends); keys that appear later are kept in the JSONL only.
    """

    def __init__(self, *, directory: str | Path, enabled: bool = True, tensorboard: bool = False) -> None:
        self.directory = Path(directory)
        self.enabled = enabled
        self._columns: dict[str, list[str]] = {}
        self._tb: Any = None
        if not enabled:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                logger.warning("tensorboard is not installed; logging to CSV and JSONL only")
            else:
                self._tb = SummaryWriter(log_dir=str(self.directory / "tensorboard"))

    def log(self, kind: str, step: int, values: dict[str, float]) -> None:
        """Record ``values`` for ``step`` under ``kind`` (e.g. ``"train"`` or ``"val"``)."""
        if not self.enabled:
            return
        row = {"step": step, **{k: float(v) for k, v in values.items()}}
        with open(self.directory / "log.jsonl", "a", encoding="utf-8") as f:
            clean = {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in row.items()}
            f.write(json.dumps({"kind": kind, **clean}) + "\n")
        self._write_csv(kind, row)
        if self._tb is not None:
            for key, value in values.items():
                self._tb.add_scalar(f"{kind}/{key}", float(value), step)

    def _write_csv(self, kind: str, row: dict[str, Any]) -> None:
        path = self.directory / f"{kind}.csv"
        columns = self._columns.get(kind)
        if columns is None:
            if path.is_file() and path.stat().st_size > 0:
                with open(path, newline="", encoding="utf-8") as f:
                    columns = next(csv.reader(f))
            else:
                columns = list(row)
                with open(path, "w", newline="", encoding="utf-8") as f:
                    csv.writer(f).writerow(columns)
            self._columns[kind] = columns
        with open(path, "a", newline="", encoding="utf-8") as f:
            csv.DictWriter(f, fieldnames=columns, restval="", extrasaction="ignore").writerow(row)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
