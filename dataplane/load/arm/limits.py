"""Bounds of template evaluation: Azure's documented template limits and the project's budgets.

Expects: calls from the evaluator (template.py, functions.py, expressions.py) at the points where
a size is decided: before building a value whose size an argument chooses (range, padLeft,
format widths, replace, copy loops) and after every function call (`Budget.charge_value`).
Emits: nothing; it raises.
Raises: InputError "template limit exceeded: ..." (Azure's documented limit) or "evaluation
budget exceeded: ..." (the project's own bound where Azure documents none); the evaluator adds
the file, the resource and the property.

Azure's limits follow Microsoft's pages:
- "ARM template best practices", section "Template limits",
  https://learn.microsoft.com/azure/azure-resource-manager/templates/best-practices#template-limits
  (and "Resolve errors for job size exceeded",
  https://learn.microsoft.com/azure/azure-resource-manager/templates/error-job-size-exceeded):
  template 4 MB and each resource definition 1 MB after expansion of copy loops, variables and
  parameters; parameter file 4 MB; 256 parameters; 256 variables; 800 resources including copy
  count; 64 output values; 24,576 characters in a template expression. (One English revision of
  the best-practices page reads 512 variables; the current pages and "Variables in ARM
  templates" say 256, which we use.)
- "Resource iteration in ARM templates" / "Property iteration" / "Variable iteration",
  section "Copy limits", https://learn.microsoft.com/azure/azure-resource-manager/templates/copy-resources#copy-limits:
  "The count can't exceed 800."
Where Azure documents no bound, the project chooses one (assumption, listed here):
- integers are 64-bit signed (ARM's evaluator is .NET; "Data types in ARM templates",
  https://learn.microsoft.com/azure/azure-resource-manager/templates/data-types#integers,
  documents no range), so a result outside [-2**63, 2**63) is an error, not a silent wrap;
- any intermediate value (string, array, object) holds at most MAX_VALUE_UNITS units (a
  character of a string, an item of an array, a key of an object each count 1): a value larger
  than the whole 4 MB template cannot be part of a valid deployment;
- nested deployments nest at most MAX_DEPLOYMENT_DEPTH deep; expressions nest at most
  MAX_EXPRESSION_DEPTH calls deep;
- one evaluation does at most MAX_WORK units of work (expressions and function calls
  evaluated, plus the items of new values weighed), so exponential templates (user functions
  calling each other twice) stop within ~20 s; the public templates in shared/real need
  less than 1% of it (tests/load/test_arm_limits.py measures that).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dataplane.errors import InputError

# Azure's documented limits ("ARM template best practices", "Template limits").
MAX_TEMPLATE_BYTES = 4 * 1024 * 1024
MAX_RESOURCE_BYTES = 1024 * 1024
MAX_PARAMETERS = 256
MAX_VARIABLES = 256
MAX_RESOURCES = 800
MAX_OUTPUTS = 64
MAX_EXPRESSION_CHARS = 24_576
MAX_COPY_COUNT = 800  # "Copy limits": resources, properties, variables, outputs

# The project's budgets where Azure documents none (module docstring).
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
MAX_VALUE_UNITS = MAX_TEMPLATE_BYTES
MAX_DEPLOYMENT_DEPTH = 16
MAX_EXPRESSION_DEPTH = 64
MAX_WORK = 1_000_000


def azure_limit(message: str) -> InputError:
    return InputError(f"template limit exceeded: {message} (Azure's documented template "
                      "limits, learn.microsoft.com/azure/azure-resource-manager/templates/"
                      "best-practices#template-limits)")


def budget_exceeded(message: str) -> InputError:
    return InputError(f"evaluation budget exceeded: {message} (a bound of this tool; Azure "
                      "documents none)")


def check_int(value: int, what: str) -> int:
    """`value` when it fits ARM's 64-bit integers; InputError naming `what` otherwise."""
    if not INT_MIN <= value <= INT_MAX:
        raise budget_exceeded(f"{what} gives an integer outside the 64-bit range")
    return value


def check_size(units: int, what: str) -> None:
    """Refuse, before building it, a value of `units` characters/items made by `what`."""
    if units > MAX_VALUE_UNITS:
        raise budget_exceeded(f"{what} would build a value of {units:,} characters or items "
                              f"(at most {MAX_VALUE_UNITS:,})")


def check_count(count: int, what: str) -> None:
    if count > MAX_COPY_COUNT:
        raise azure_limit(f"{what} is {count:,}; the count can't exceed {MAX_COPY_COUNT}")


class Budget:
    """The work counter of one evaluation (a template and its nested deployments)."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = MAX_WORK if limit is None else limit
        self.spent = 0
        self._weights: dict[int, tuple[Any, int]] = {}

    def charge(self, units: int) -> None:
        self.spent += units
        if self.spent > self.limit:
            raise budget_exceeded(f"the template needs more than {self.limit:,} evaluation "
                                  "steps")

    def charge_value(self, value: Any, what: str) -> None:
        """Weigh `value` (a tree: shared parts count each time they appear) and charge the
        steps it took. Containers weighed before (every function result is) count at their
        recorded weight without a walk, so weighing costs about the new part of a value;
        it stops as soon as the weight passes MAX_VALUE_UNITS."""
        units = steps = 0
        stack = [value]
        while stack:
            item = stack.pop()
            steps += 1
            if isinstance(item, str):
                units += len(item) + 1
            elif isinstance(item, bool) or item is None:
                units += 1
            elif isinstance(item, int):
                check_int(item, what)
                units += 1
            elif isinstance(item, list | Mapping):
                known = self._weights.get(id(item)) if item is not value else None
                if known is not None and known[0] is item:
                    units += known[1]
                elif isinstance(item, list):
                    units += 1
                    stack.extend(item)
                else:
                    units += 1
                    for key, inner in item.items():
                        units += len(key) if isinstance(key, str) else 1
                        stack.append(inner)
            else:
                units += 1
            if units > MAX_VALUE_UNITS:
                raise budget_exceeded(f"{what} builds a value larger than "
                                      f"{MAX_VALUE_UNITS:,} characters or items")
        if isinstance(value, list | Mapping):
            self._weights[id(value)] = (value, units)  # the reference keeps the id valid
        self.charge(steps)
