"""vnet-dataplane: a packet-level emulator of the Azure virtual-network data plane.

Public entry points: `load(path, parameters=None) -> Topology`, `Emulator(topology)` (the
packet pipeline: dataplane/engine) and the model classes.
(`dataplane.load` is the function; its implementation lives in the subpackage of the same
name, imported here first so the attribute stays the function.)
"""

from dataplane.errors import AzureError, DataplaneError, Finding, InputError
from dataplane.load import load
from dataplane.model import Topology

__version__ = "0.1.0"

__all__ = ["AzureError", "DataplaneError", "Emulator", "Finding", "InputError", "Topology",
           "load", "__version__"]


def __getattr__(name: str) -> object:
    # The engine (numpy, kernels, scapy at the edges) loads on first use, not on every CLI call.
    if name == "Emulator":
        from dataplane.engine import Emulator

        return Emulator
    raise AttributeError(f"module 'dataplane' has no attribute {name!r}")
