"""Errors and findings shared by every tier.

InputError: the input cannot be read or understood (exit status 2). It names the file, the
resource and the property, so a user can find the mistake without a traceback.
Finding: one validation result (an Azure error code, a message and the resource it concerns);
errors make a topology invalid (exit status 1), warnings do not.
AzureError: an operation Azure would reject (peering create, address-space change, ...), with
Azure's error code.
"""

from __future__ import annotations

from dataclasses import dataclass


class DataplaneError(Exception):
    """Base class of every error this package raises on purpose."""


class InputError(DataplaneError):
    """Input that cannot be read: malformed file, unknown reference, unsupported feature."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        resource: str | None = None,
        property: str | None = None,  # noqa: A002 - ARM's word for it
    ) -> None:
        self.message = message
        self.file = file
        self.resource = resource
        self.property = property
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file))
        if self.resource:
            where.append(f"resource '{self.resource}'")
        if self.property:
            where.append(f"property '{self.property}'")
        prefix = ": ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message

    def located(self, *, file: str | None = None, resource: str | None = None,
                property: str | None = None) -> InputError:  # noqa: A002
        """The same error with missing location parts filled in (inner code knows less)."""
        return InputError(
            self.message,
            file=self.file or file,
            resource=self.resource or resource,
            property=self.property or property,
        )


# A load finding (Topology.load_findings) with this code is a warning, not an error: a property
# a spelling away from one the loader reads (load/near_misses.py; control/validate.py, caveats.py).
PROPERTY_NEAR_MISS = "PropertyNameNearMiss"
# Likewise a warning: a real Azure property set so that it can change a verdict, which the model
# does not evaluate (load/unread.py; a named caveat `unread:...` on the answers it touches).
PROPERTY_NOT_MODELLED = "PropertyNotModelled"
WARNING_FINDINGS = frozenset({PROPERTY_NEAR_MISS, PROPERTY_NOT_MODELLED})


@dataclass(frozen=True)
class Finding:
    """One validation result, shaped like an ARM error: code, message, resource."""

    code: str
    message: str
    resource: str
    severity: str = "error"  # "error" | "warning"

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "resource": self.resource}


class AzureError(DataplaneError):
    """An operation Azure rejects; `code` is Azure's error code (docs/azure-behaviour.md §4.6, 8)."""

    def __init__(self, code: str, message: str, resource: str = "") -> None:
        self.code = code
        self.message = message
        self.resource = resource
        super().__init__(f"{code}: {message}")

    def as_finding(self) -> Finding:
        return Finding(self.code, self.message, self.resource)
