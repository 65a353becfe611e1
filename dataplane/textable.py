"""Plain-text tables, prose and durations for the terminal (no dependency, aligned columns, no
colour); shared by cli and whatif.

`table()` fits the terminal (`width()`: $COLUMNS, else 100): when the natural widths do not fit,
the widest columns are narrowed (`keep` columns last) and their cells wrap onto extra lines at
spaces, or when that
cannot fit, also after ',', '>', and a '/' or '.' not followed by a digit (never inside a
prefix, a number or a name_with_underscores); when even that does not fit, each row is printed as a record
("header: value" lines).
`fit()` wraps prose lines longer than the width at spaces, keeping their indent, never between
a number and its unit ("500 µs"); a word longer than the width (a resource id) breaks like a
table cell, after '/' (never mid-name).
`items_line()` lists items after a lead, wrapping only between items. `duration()` gives a
nanosecond count with a unit.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from collections.abc import Sequence

_WORD = re.compile(r"\S*\s*")
# breaks after '/', ',', '>' and a '.' before a letter; '/' and '.' before a digit hold
# (prefixes, numbers); names_with_underscores stay whole
_PART = re.compile(r"(?:[^\s,/>.]|[/.](?=\d))*(?:[/,>]|\.(?=[A-Za-z]))?\s*")
# a number and its unit: `fit` holds them on one line (joined by _GLUE while wrapping)
_UNIT = re.compile(r"(\d) (ns|µs|ms|s|min|h|bps|kbps|Mbps|Gbps|B|KiB|MiB|GiB|bytes|packet\(s\)|"
                   r"packets|%)(?=$|[\s,;.)])")
_GLUE = "\x00"


def width() -> int:
    return shutil.get_terminal_size((100, 24)).columns


def _tokens(cell: str, token: re.Pattern[str]) -> list[str]:
    return [t for t in token.findall(cell) if t]


def _wrap(cell: str, w: int, pattern: re.Pattern[str]) -> list[str]:
    """Greedy wrap at token ends; a cell that fits stays one line."""
    if len(cell) <= w:
        return [cell]
    lines, line = [], ""
    for token in _tokens(cell, pattern):
        if line and len(line + token.rstrip()) > w:
            lines.append(line.rstrip())
            line = ""
        line += token
    return [*lines, line.rstrip()]


def _narrowed(natural: list[int], floors: list[int], budget: int,
              keep: Sequence[int] = ()) -> list[int]:
    """Widths within `budget`: the column with the most room above its floor narrows first;
    columns in `keep` narrow only once every other column is at its floor."""
    widths = list(natural)
    while sum(widths) > budget:
        shrinkable = [i for i in range(len(widths)) if widths[i] > floors[i]]
        if not shrinkable:
            break
        shrinkable = [i for i in shrinkable if i not in keep] or shrinkable
        widths[max(shrinkable, key=lambda i: widths[i] - floors[i])] -= 1
    return widths


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], indent: str = "  ",
          max_width: int | None = None, keep: Sequence[int] = ()) -> str:
    """`keep`: indices of columns that stay whole (a row's name) while others can wrap."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    columns = range(len(headers))
    natural = [max(len(row[i]) for row in cells) for i in columns]
    budget = (max_width or width()) - len(indent) - 2 * (len(headers) - 1)
    # break at spaces if that fits, else also after '/' and ','; `keep` columns whole if that
    # fits either way, else narrowed last
    for whole, token in ((True, _WORD), (True, _PART), (False, _WORD), (False, _PART)):
        floors = [natural[i] if whole and i in keep else
                  max(len(t.rstrip()) for row in cells for t in _tokens(row[i], token) or [""])
                  for i in columns]
        widths = _narrowed(natural, floors, budget, keep)
        if sum(widths) <= budget:
            break
    else:
        return _records(cells, indent, max_width or width())
    lines = []
    for row in cells:
        parts = [_wrap(c, w, token) for c, w in zip(row, widths, strict=True)]
        for k in range(max(len(p) for p in parts)):
            lines.append(indent + "  ".join((p[k] if k < len(p) else "").ljust(w)
                                            for p, w in zip(parts, widths, strict=True)).rstrip())
        if row is cells[0]:
            lines.append(indent + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _records(cells: list[list[str]], indent: str, limit: int) -> str:
    """Rows too wide for any table: one block per row, a 'header: value' line per column."""
    headers, rows = cells[0], cells[1:]
    pad = max(len(h) for h in headers)
    out = []
    for n, row in enumerate(rows, 1):
        out.append(f"{indent}-- {n} --")
        for h, c in zip(headers, row, strict=True):
            out.append(fit(f"{indent}{h.ljust(pad)}  {c}", limit))
    return "\n".join(out)


def fit(text: str, max_width: int | None = None) -> str:
    """Prose lines longer than the width wrapped, continuation lines indented past the
    line's own indent (and past a leading '- ')."""
    limit = max_width or width()
    out = []
    for line in text.split("\n"):
        if len(line) <= limit:
            out.append(line)
            continue
        lead = len(line) - len(line.lstrip())
        hang = " " * (lead + (2 if line.lstrip().startswith("- ") else 4))
        glued = _UNIT.sub(rf"\1{_GLUE}\2", line)
        for wrapped in textwrap.wrap(glued, limit, initial_indent="", subsequent_indent=hang,
                                     break_on_hyphens=False, break_long_words=False) or [glued]:
            out.extend(_long_word(wrapped.replace(_GLUE, " "), limit, hang))
    return "\n".join(out)


def items_line(lead: str, items: Sequence[str], max_width: int | None = None) -> str:
    """`lead` then `items` joined by ', ', wrapped only between items ("1 firewall" never
    splits), continuation lines indented 4 as `fit` indents them; an item longer than a line
    stands alone on its line (`fit` then breaks it like a long word). `lead` is not empty."""
    limit = max_width or width()
    lines = [lead.rstrip()]
    for k, item in enumerate(items):
        piece = item + ("," if k < len(items) - 1 else "")
        if len(lines[-1]) + 1 + len(piece) <= limit:
            lines[-1] += " " + piece
        else:
            lines.append("    " + piece)
    return "\n".join(lines)


def _long_word(line: str, limit: int, hang: str) -> list[str]:
    """A line still too long holds a word longer than the width (a resource id, a URL): it
    breaks after '/', ',', '>' or a '.' before a letter (`_PART`), never inside a name."""
    if len(line) <= limit:
        return [line]
    lead = line[:len(line) - len(line.lstrip())]  # never longer than `hang`
    pieces = _wrap(line.lstrip(), max(limit - len(hang), 1), _PART)
    return [lead + pieces[0], *(hang + piece for piece in pieces[1:])]


def duration(ns: int | float) -> str:
    """A duration for people, three significant digits: '850 ns', '101 µs', '46.1 ms', '1.25 s'."""
    value = float(ns)
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if abs(value) >= scale:
            scaled = value / scale
            return f"{scaled:.3g} {unit}" if abs(scaled) < 1000 else f"{scaled:.0f} {unit}"
    return f"{int(value)} ns"
