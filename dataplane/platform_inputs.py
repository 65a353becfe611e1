"""The inputs a user gives beside the topology, applied in one call (API and CLI alike).

Takes: a Topology; `service_tags` (path of Microsoft's ServiceTags_Public_*.json or of
`az network list-service-tags -o json`; None: the VNET_DATAPLANE_SERVICE_TAGS environment
variable, else the built-in names and partial prefixes) and `vm_caps` ({VM name or id: bps}, or
'VM=BPS' strings as `--vm-cap` gives them). Emits the Topology with `service_tags` set
(control/servicetags.py) and `egress_cap_bps` on the named VMs (timing/bandwidth.py).
Bad input is an InputError naming the file, the resource and the property.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from dataplane.control.servicetags import with_service_tags
from dataplane.model import Topology
from dataplane.timing.bandwidth import parse_vm_caps, with_vm_caps


def with_platform_inputs(topology: Topology, *, service_tags: str | Path | None = None,
                         vm_caps: Mapping[str, int] | Iterable[str] | None = None) -> Topology:
    caps = dict(vm_caps) if isinstance(vm_caps, Mapping) else parse_vm_caps(vm_caps or ())
    return with_vm_caps(with_service_tags(topology, service_tags), caps)
