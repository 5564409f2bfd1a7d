"""Results of an evaluation run: per-run summaries, per-sample rows, CSV files and the summary table."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io.atomic import write_text_atomic
from ..metrics import MetricAccumulator, metric_names
from .layouts import Group

__all__ = ["GroupResult", "EvaluationResult", "SAMPLES_CSV", "SUMMARY_CSV"]

SAMPLES_CSV = "samples.csv"
SUMMARY_CSV = "summary.csv"

_STATUSES = ("ok", "bad", "skipped")


@dataclass
class GroupResult:
    """One (subset, mask source) run: its accumulator and the status of every sample, in order."""

    group: Group
    accumulator: MetricAccumulator
    samples: list[dict[str, object]] = field(default_factory=list)

    def add_status(self, name: str, status: str, detail: str = "", values: dict[str, float] | None = None) -> None:
        """Record a sample as ``"ok"`` (with its ``values``), ``"bad"`` or ``"skipped"`` (with a reason)."""
        row: dict[str, object] = {
            "subset": self.group.subset,
            "mask_source": self.group.mask_source,
            "sample": name,
            "status": status,
            "detail": detail,
        }
        row |= {m: (values or {}).get(m, math.nan) for m in self.accumulator.names}
        self.samples.append(row)

    def count(self, status: str) -> int:
        return sum(row["status"] == status for row in self.samples)

    def values(self) -> dict[str, float]:
        """Run-level metric values; NaN when no sample could be evaluated."""
        if not self.count("ok"):
            return {m: math.nan for m in self.accumulator.names}
        return self.accumulator.summary()


@dataclass
class EvaluationResult:
    """What :func:`maggie.evaluate` returns: one :class:`GroupResult` per (subset, mask source)."""

    layout: str
    convention: str
    kind: str
    groups: list[GroupResult] = field(default_factory=list)

    @property
    def names(self) -> tuple[str, ...]:
        return metric_names(self.convention, self.kind)  # type: ignore[arg-type]

    def sample_rows(self) -> list[dict[str, object]]:
        """Every sample of every run, ``status`` one of ``ok`` / ``bad`` / ``skipped``."""
        return [row for g in self.groups for row in g.samples]

    def bad_samples(self) -> list[str]:
        """``subset/mask_source/sample: reason`` for every bad sample."""
        return [
            f"{r['subset']}/{r['mask_source']}/{r['sample']}: {r['detail']}"
            for r in self.sample_rows()
            if r["status"] == "bad"
        ]

    def summary_rows(self) -> list[dict[str, object]]:
        """One row per run; for a subset with several mask sources, also ``mean`` and ``std`` rows.

        ``mean`` / ``std`` are taken over the mask sources' run values (population std), as the
        M-HIM2K results are reported; sample counts in those rows are totals.
        """
        rows: list[dict[str, object]] = []
        for subset in dict.fromkeys(g.group.subset for g in self.groups):
            groups = [g for g in self.groups if g.group.subset == subset]
            for g in groups:
                rows.append(self._row(subset, g.group.mask_source, [g], g.values()))
            if len(groups) > 1:
                table = np.array([[g.values()[m] for m in self.names] for g in groups], dtype=np.float64)
                for label, reduce in (("mean", np.mean), ("std", np.std)):
                    rows.append(
                        self._row(subset, label, groups, dict(zip(self.names, reduce(table, axis=0), strict=True)))
                    )
        return rows

    def _row(self, subset: str, source: str, groups: list[GroupResult], values: dict[str, float]) -> dict[str, object]:
        counts = {s: sum(g.count(s) for g in groups) for s in _STATUSES}
        return {
            "subset": subset,
            "mask_source": source,
            **counts,
            **{m: float(values[m]) for m in self.names},
        }

    def write_csv(self, out: Path) -> tuple[Path, Path]:
        """Write ``samples.csv`` and ``summary.csv`` into ``out`` (created if needed), each atomically."""
        out.mkdir(parents=True, exist_ok=True)
        samples = _write_atomic(
            out / SAMPLES_CSV,
            self.sample_rows(),
            ["subset", "mask_source", "sample", "status", "detail", *self.names],
        )
        summary = _write_atomic(
            out / SUMMARY_CSV, self.summary_rows(), ["subset", "mask_source", *_STATUSES, *self.names]
        )
        return samples, summary

    def table(self) -> str:
        """The summary as a fixed-width text table, followed by the list of bad samples."""
        header = ["subset", "mask source", *_STATUSES, *self.names]
        body = [
            [
                str(r["subset"]),
                str(r["mask_source"]),
                *(str(r[s]) for s in _STATUSES),
                *(_fmt(r[m]) for m in self.names),
            ]
            for r in self.summary_rows()
        ]
        widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
        lines = [
            f"maggie eval: layout {self.layout}, {self.convention} convention"
            + (" (comparable with the MaGGIe paper)" if self.convention == "reference" else "")
        ]
        for row in [header, *body]:
            cells = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
            lines.append("  ".join(cells).rstrip())
        bad = self.bad_samples()
        if bad:
            lines.append(f"{len(bad)} bad sample(s) skipped:")
            lines.extend(f"  {b}" for b in bad)
        return "\n".join(lines)


def _fmt(value: object) -> str:
    v = float(value)  # type: ignore[arg-type]
    return "n/a" if math.isnan(v) else f"{v:.4f}"


def _csv_value(value: object) -> object:
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return value


def _write_atomic(path: Path, rows: list[dict[str, object]], columns: list[str]) -> Path:
    """Write a CSV atomically, so readers never see a partial file."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _csv_value(row[c]) for c in columns})
    return write_text_atomic(path, buffer.getvalue())
