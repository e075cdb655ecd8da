"""State machines as tables of allowed transitions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from server.domain.errors import IllegalTransition

S = TypeVar("S", bound=StrEnum)


@dataclass(frozen=True)
class StateMachine(Generic[S]):
    """A named table `action -> (allowed sources, target)`."""

    name: str
    transitions: Mapping[str, tuple[frozenset[S], S]]

    def target(self, current: S, action: str) -> S:
        """The state `action` leads to from `current`, or an IllegalTransition."""
        if action not in self.transitions:
            raise IllegalTransition(
                f"{self.name}: unknown action {action!r}", code=f"{self.name}_unknown_action"
            )
        sources, target = self.transitions[action]
        if current not in sources:
            raise IllegalTransition(
                f"{self.name}: cannot {action} from {current.value}",
                code=f"{self.name}_illegal_transition",
                fields={"from": current.value, "action": action},
            )
        return target

    def allowed_actions(self, current: S) -> list[str]:
        return [a for a, (sources, _) in self.transitions.items() if current in sources]
