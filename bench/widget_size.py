"""Gzipped sizes of the embeddable widget against its budgets (issue 5).

    python bench/widget_size.py

The loader runs in every host page; the frame (its HTML, scripts and styles) loads
with the launcher. Exits 1 when either is over budget.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

WIDGET = Path(__file__).resolve().parent.parent / "widget"
BUDGETS = {
    "loader": (["loader.js"], 6 * 1024),
    "frame": (["frame.html", "frame.js", "frame.css", "i18n.js"], 35 * 1024),
}


def gzipped(name: str) -> tuple[int, int]:
    data = (WIDGET / name).read_bytes()
    return len(data), len(gzip.compress(data, compresslevel=9, mtime=0))


def main() -> int:
    over = False
    for part, (names, budget) in BUDGETS.items():
        total = 0
        for name in names:
            raw, packed = gzipped(name)
            total += packed
            print(f"  {name:<12} {raw:>7,} B raw  {packed:>6,} B gzipped")
        verdict = "ok" if total <= budget else "OVER BUDGET"
        over |= total > budget
        print(f"{part:<14} {total:>6,} B gzipped of {budget:,} B budget: {verdict}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
