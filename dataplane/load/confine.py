"""Confinement: every file read on a user's behalf stays inside the input's folder tree.

Expects: the input the user named (a file or a folder) and, optionally, extra directories the
user allows explicitly (`allow_paths`, the `--allow-path DIR` flag of every command).
Emits: `Confinement.check(path, ...) -> Path`, the resolved path (symlinks resolved first) when
it lies inside one of the allowed trees.
Raises: InputError naming the template, the property and the path when a file a template names
(templateLink, parametersLink, ...) resolves outside every allowed tree.
Why: a template is data from elsewhere; `relativePath: "../../etc/passwd"`, an absolute path,
a `file://` URI or a symlink must not make `dataplane check` read and print files the user did
not hand over (issue 10, point 1). The user's own command-line paths are not confined.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dataplane.errors import InputError


def _resolved(path: str | Path) -> Path:
    try:
        return Path(path).expanduser().resolve(strict=False)
    except (OSError, RuntimeError, ValueError) as error:  # symlink loop, NUL byte
        raise InputError(f"cannot resolve path '{path}': {error}") from None


@dataclass(frozen=True)
class Confinement:
    """The directory trees files may be read from (resolved, absolute)."""

    roots: tuple[Path, ...]

    @classmethod
    def for_input(cls, given: str | Path, allow_paths: Iterable[str | Path] = ()
                  ) -> Confinement:
        """The folder tree of `given` (its folder if a file) plus each of `allow_paths`."""
        base = _resolved(given)
        root = base if base.is_dir() else base.parent
        extra = []
        for allowed in allow_paths:
            resolved = _resolved(allowed)
            if not resolved.is_dir():
                raise InputError(f"allowed path '{allowed}' is not a directory",
                                 property="allow_paths")
            extra.append(resolved)
        return cls((root, *extra))

    def contains(self, path: Path) -> bool:
        return any(path == root or path.is_relative_to(root) for root in self.roots)

    def check(self, path: str | Path, *, file: str, resource: str, property: str  # noqa: A002
              ) -> Path:
        """`path` resolved; InputError naming template, property and path when outside."""
        resolved = _resolved(path)
        if not self.contains(resolved):
            allowed = ", ".join(str(r) for r in self.roots)
            raise InputError(
                f"path '{path}' resolves to '{resolved}', outside the input's folder tree "
                f"({allowed}); refused (widen with --allow-path DIR / allow_paths=...)",
                file=file, resource=resource, property=property)
        return resolved


__all__ = ["Confinement"]
