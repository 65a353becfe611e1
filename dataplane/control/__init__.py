"""The control plane: from the configured model to what Azure programs into the fabric.

Modules: peering (link lifecycle), routes (effective routes), tags (service tags), nsg
(effective security rules and their evaluation), program (flat versioned tables for the
packet pipeline), explain (one flow walked hop by hop).
"""
