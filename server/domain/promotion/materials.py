"""Materials promoters share: kinds, the publish life cycle, and copy with the promoter's
own link and code filled in."""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum

from server.domain.state_machine import StateMachine

MAX_COPY_LENGTH = 2000
# Placeholders staff may write in copy; anything else in braces is left as written.
PLACEHOLDERS = ("link", "mp_path", "code", "name")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")


class MaterialKind(StrEnum):
    IMAGE = "image"
    COPY = "copy"
    PRODUCT = "product"


class MaterialStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    UNPUBLISHED = "unpublished"


_M = MaterialStatus

MATERIAL_LIFECYCLE: StateMachine[MaterialStatus] = StateMachine(
    name="material",
    transitions={
        "publish": (frozenset({_M.DRAFT, _M.UNPUBLISHED}), _M.PUBLISHED),
        "unpublish": (frozenset({_M.PUBLISHED}), _M.UNPUBLISHED),
    },
)


def fill_copy(text: str, values: Mapping[str, str]) -> str:
    """`text` with each known placeholder ({link}, {code}, ...) replaced by its value."""
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), ""), text)
