"""Plain-text tables, prose and durations for the terminal (no dependency, aligned columns, no
colour); shared by cli and whatif.

`table()` fits the terminal (`width()`: $COLUMNS, else 100): when the natural widths do not fit,
the widest columns are narrowed (`keep` columns last) and their cells wrap onto extra lines at
spaces, or when that
cannot fit, also after ',', '>', and a '/' or '.' not followed by a digit (never inside a
prefix, a number or a name_with_underscores); when even that does not fit, each row is printed as a record
("header: value" lines).
`fit()` wraps prose lines longer than the width at spaces, keeping their indent (continuation
lines hang past it, and past a '- ' or '! ' bullet), never between a number and its unit
("500 µs"); a word too long for a line (a resource id, a file path), or a long one that would
leave a label or a bullet alone on its line, is cut to fill the lines from where it stands, after '/', '#', ',' or '>' (`_PATH`: never inside a name, a file
name or a provider namespace), and only where a piece is still too long also after a '.'
before a letter (`_PART`). `reflow()` re-flows hard-wrapped paragraphs (a docstring) before
fitting them: one piece of code for every wrapped text of the command line.
`items_line()` lists items after a lead, wrapping only between items. `duration()` gives a
nanosecond count with a unit.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence

_WORD = re.compile(r"\S*\s*")
# breaks after '/', ',', '>' and a '.' before a letter; '/' and '.' before a digit hold
# (prefixes, numbers); names_with_underscores stay whole
_PART = re.compile(r"(?:[^\s,/>.]|[/.](?=\d))*(?:[/,>]|\.(?=[A-Za-z]))?\s*")
# a long word's first cuts: after '/', '#', ',' and '>' only (paths, resource ids)
_PATH = re.compile(r"[^\s,/>#]*[/,>#]?\s*")
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
    line's own indent (2 past a leading '- ' or '! ', else 4)."""
    limit = max_width or width()
    out = []
    for line in text.split("\n"):
        if len(line) <= limit:
            out.append(line)
            continue
        lead = len(line) - len(line.lstrip())
        bullet = line.lstrip()[:2] in ("- ", "! ")
        out.extend(_fill(line, limit, " " * (lead + (2 if bullet else 4))))
    return "\n".join(out)


def _fill(line: str, limit: int, hang: str) -> list[str]:
    """Greedy fill at spaces (a number and its unit glued). A word that does not fit where it
    stands starts the next line, whole when it fits one; a word too long for any line, or a
    long one (over half a line: a path, a resource id) that would leave a line holding only
    its first word (a label, a bullet), is cut (`_pieces`) and fills the line it stands on."""
    room = max(limit - len(hang), 1)
    lines, current = [], line[:len(line) - len(line.lstrip())]
    for token in _tokens(_UNIT.sub(rf"\1{_GLUE}\2", line.lstrip()), _WORD):
        word = token.rstrip()
        # a word that fits a line of its own moves there whole, unless the line would keep
        # only its first word (a label, a bullet): then, a long word is cut to fill it
        fits = (len(current + word) <= limit or len(word) <= room // 2
                or (len(word) <= room and " " in current.strip()))
        for piece in [token] if fits else _pieces(token, room):
            if current.strip() and len(current + piece.rstrip()) > limit:
                lines.append(current.rstrip())
                current = hang
            current += piece
    lines.append(current.rstrip())
    return [x.replace(_GLUE, " ") for x in lines]


def _pieces(word: str, room: int) -> list[str]:
    """A word too long for a line, cut after '/', '#', ',', '>' (`_PATH`); a piece still
    longer than `room` also after a '.' before a letter (`_PART`); never inside a name."""
    return [part for piece in _tokens(word, _PATH)
            for part in ([piece] if len(piece.rstrip()) <= room else _tokens(piece, _PART))]


def reflow(text: str, max_width: int | None = None) -> str:
    """Hard-wrapped paragraphs (a docstring's) joined and `fit` again: within a paragraph
    (blank lines separate them) a line is joined to the one before unless it is indented or
    starts a bullet ('- ', '* '), so lists and usage lines keep their own lines; a paragraph's
    lines wrap flush with its indent (a help text, not an answer's hanging prose)."""
    lines: list[str] = []
    for line in text.strip("\n").split("\n"):
        joins = (lines and lines[-1].strip() and line.strip() and not line[:1].isspace()
                 and line[:2] not in ("- ", "* "))
        if joins:
            lines[-1] = lines[-1].rstrip() + " " + line.strip()
        else:
            lines.append(line.rstrip())
    limit = max_width or width()
    return "\n".join(x for line in lines for x in (
        [line] if len(line) <= limit else _fill(line, limit, line[:len(line) - len(line.lstrip())])))


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


def duration(ns: int | float) -> str:
    """A duration for people, three significant digits: '850 ns', '101 µs', '46.1 ms', '1.25 s'."""
    value = float(ns)
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if abs(value) >= scale:
            scaled = value / scale
            return f"{scaled:.3g} {unit}" if abs(scaled) < 1000 else f"{scaled:.0f} {unit}"
    return f"{int(value)} ns"
