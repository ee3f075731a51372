"""The tables of bench.md: a title, columns, rows of formatted cells and notes below."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.title}: {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append([cell if isinstance(cell, str) else number(cell) for cell in cells])

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", "| " + " | ".join(self.columns) + " |",
                 "|" + "|".join("---" for _ in self.columns) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        if self.notes:
            lines += [""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines)


def number(value: object) -> str:
    """A number with about 3 significant digits (no exponent between 0.001 and 1e6); None as a dash."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, float):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    magnitude = abs(value)
    if magnitude == 0.0:
        return "0"
    if magnitude >= 1e6 or magnitude < 1e-3:
        return f"{value:.3g}"
    if magnitude >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def energy(value_j: object) -> str:
    """An energy in pJ, nJ, uJ, mJ or J (about 3 significant digits); None as a dash."""
    if value_j is None or not isinstance(value_j, (int, float)) or isinstance(value_j, bool):
        return number(value_j)
    if value_j == 0 or not math.isfinite(value_j):
        return f"{value_j:g} J"
    for scale, unit in ((1.0, "J"), (1e-3, "mJ"), (1e-6, "uJ"), (1e-9, "nJ"), (1e-12, "pJ")):
        if abs(value_j) >= scale:
            return f"{value_j / scale:.3g} {unit}"
    return f"{value_j / 1e-15:.3g} fJ"
