"""ARM deployment templates evaluated offline into resolved resources (see template.py)."""

from dataplane.load.arm.template import TemplateResult, evaluate_template

__all__ = ["TemplateResult", "evaluate_template"]
