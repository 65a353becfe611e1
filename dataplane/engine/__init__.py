"""The packet pipeline: dispositions, reference and batch pipelines, the Emulator."""

from dataplane.dispositions import Disposition
from dataplane.engine.emulator import Emulator
from dataplane.engine.results import Result

__all__ = ["Disposition", "Emulator", "Result"]
