"""vnet-dataplane: a packet-level emulator of the Azure virtual-network data plane.

Public entry points: `load(path, parameters=None) -> Topology` and the model classes.
"""

from dataplane.errors import AzureError, DataplaneError, Finding, InputError
from dataplane.model import Topology

__version__ = "0.1.0"

__all__ = ["AzureError", "DataplaneError", "Finding", "InputError", "Topology", "load",
           "__version__"]


def load(path, parameters=None) -> Topology:  # noqa: ANN001 - re-exported, typed in load/
    """Load a topology from an ARM template, az JSON dumps or a scenario YAML (see load/)."""
    from dataplane.load import load as _load

    return _load(path, parameters)
