"""NSG rule classifier (first match wins); see dataplane/kernels/acl.py."""

from dataplane.kernels.acl import AclClassifier, AclClassifierPy, AclRule

__all__ = ["AclClassifier", "AclClassifierPy", "AclRule"]
