"""IP-based load-balancer backend pools: join each listed address to the NIC ip configuration
that holds it.

Takes a Topology whose BackendAddressPools carry `load_balancer_backend_addresses` ((virtual
network or subnet id, private IP) pairs, load/resources.py `backend_addresses`). Emits the same
Topology with each matching NIC ip configuration naming the pool in
`load_balancer_backend_address_pools`, as a NIC-based pool's members do, so the engine
(stages/loadbalancer.py) and the outbound methods (control/outbound.py) see one kind of member.

Microsoft: "Backend pool management", https://learn.microsoft.com/azure/load-balancer/
backend-pool-management, "Configure backend pool by IP address and virtual network" (a pool
lists IP addresses with their virtual network; a NIC created with such an address serves
traffic) and "Limitations" ("The backend resources must be in the same virtual network as the
load balancer for IP based LBs"; backend instances must be virtual machines). An address no NIC
of that virtual network holds has no member to deliver to (as in Azure: nothing answers there).
"""

from __future__ import annotations

from dataclasses import replace

from dataplane.model import Topology, id_key


def _in_scope(scope: str, subnet_id: str) -> bool:
    """A subnet id lies in `scope` (a virtual network id or that subnet's id)."""
    scope, subnet = id_key(scope), id_key(subnet_id)
    return subnet == scope or subnet.startswith(scope + "/subnets/")


def ip_based_pool_members(topology: Topology) -> Topology:
    """The topology with every IP-based pool's addresses joined to their NIC ip configurations
    (module docstring); unchanged when no pool lists addresses."""
    wanted = [(pool.id, scope, address) for lb in topology.load_balancers
              for pool in lb.backend_address_pools
              for scope, address in pool.load_balancer_backend_addresses]
    if not wanted:
        return topology
    nics = []
    for nic in topology.network_interfaces:
        configs = []
        for config in nic.ip_configurations:
            joined = [pool_id for pool_id, scope, address in wanted
                      if config.private_ip_address == address and _in_scope(scope, config.subnet)]
            if joined:
                pools = tuple(dict.fromkeys((*config.load_balancer_backend_address_pools,
                                             *joined)))
                config = replace(config, load_balancer_backend_address_pools=pools)
            configs.append(config)
        nics.append(replace(nic, ip_configurations=tuple(configs)))
    return replace(topology, network_interfaces=tuple(nics))
