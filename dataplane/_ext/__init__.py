"""Compiled kernels (built from ext/*.pyx by setup.py). Import through dataplane.kernels, never directly."""
