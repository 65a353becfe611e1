"""vnet-dataplane: a packet-level emulator of the Azure virtual-network data plane.

Public entry points: `load(path, parameters=None) -> Topology` and the model classes.
(`dataplane.load` is the function; its implementation lives in the subpackage of the same
name, imported here first so the attribute stays the function.)
"""

from dataplane.errors import AzureError, DataplaneError, Finding, InputError
from dataplane.load import load
from dataplane.model import Topology

__version__ = "0.1.0"

__all__ = ["AzureError", "DataplaneError", "Finding", "InputError", "Topology", "load",
           "__version__"]
