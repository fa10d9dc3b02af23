"""The ``customClaims`` of a runtime's ``customJWTAuthorizer``: checked at create, matched at
the front door.

Each rule names a claim of the inbound token and how its value must match, beyond the
audience, client and scope checks:

- ``STRING`` with ``EQUALS`` and ``matchValueString``: the claim is that string;
- ``STRING_ARRAY`` with ``CONTAINS`` and ``matchValueString``: the claim is a list that
  holds that string;
- ``STRING_ARRAY`` with ``CONTAINS_ANY`` and ``matchValueStringList``: the claim is a list
  that holds at least one of those strings.

A token must satisfy every rule. Any other pairing is refused when the runtime is
created, as the service documents it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import validation_error

# operator -> (the claim's value type, the match value it takes)
PAIRINGS = {
    "EQUALS": ("STRING", "matchValueString"),
    "CONTAINS": ("STRING_ARRAY", "matchValueString"),
    "CONTAINS_ANY": ("STRING_ARRAY", "matchValueStringList"),
}


@dataclass(frozen=True)
class ClaimRule:
    claim: str
    operator: str
    values: tuple[str, ...]  # one value, but for CONTAINS_ANY

    def matches(self, claims: dict) -> bool:
        found = claims.get(self.claim)
        if self.operator == "EQUALS":
            return isinstance(found, str) and found == self.values[0]
        if not isinstance(found, list):
            return False
        return any(value in found for value in self.values)


def rules_of(configured: list[dict]) -> tuple[ClaimRule, ...]:
    """The rules of a ``customClaims`` list, or the ValidationException saying which is wrong."""
    return tuple(_rule(i, rule) for i, rule in enumerate(configured))


def _rule(index: int, rule: dict) -> ClaimRule:
    match = rule["authorizingClaimMatchValue"]
    operator, value = match["claimMatchOperator"], match["claimMatchValue"]
    where = f"customClaims[{index}]"
    if operator not in PAIRINGS:
        raise validation_error(
            f"{where}: unknown claimMatchOperator {operator!r}.",
            [(where, f"claimMatchOperator must be one of {', '.join(PAIRINGS)}")],
        )
    value_type, member = PAIRINGS[operator]
    if rule["inboundTokenClaimValueType"] != value_type:
        raise validation_error(
            f"{where}: {operator} takes a claim of type {value_type}.",
            [(where, f"inboundTokenClaimValueType must be {value_type} for {operator}")],
        )
    if set(value) != {member}:
        raise validation_error(
            f"{where}: {operator} takes {member}, and nothing else.",
            [(where, f"claimMatchValue must hold {member} only")],
        )
    found = value[member]
    return ClaimRule(rule["inboundTokenClaimName"], operator, tuple(_as_list(found)))


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
