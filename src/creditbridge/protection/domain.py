"""Pure rules: which masking rule a viewer gets for a field, applying it to a record, and the
envelope an encrypted field value is stored in. No I/O.

Why these rules: JR/T 0197-2020 grades data 1 (public) to 5 (important); level 4 covers C3/C2
personal financial information that is need-to-know, and GB/T 35273-2020 asks that personal
information shown on screens be masked. The enterprise sees everything about itself unmasked
(征信业管理条例 第十七条, and DESIGN: "an enterprise sees everything held about it").
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, Final, Protocol

from creditbridge.catalog.domain import mask_value


class Viewer(StrEnum):
    OWNER = "owner"
    """The enterprise the data is about (its own users)."""
    CONSENTED = "consented"
    """An institution reading under a consent whose scope covers the dataset."""
    PUBLIC = "public"
    """Anyone reading public (依法公开) data without a consent."""
    STAFF = "staff"
    """Platform operator, admins and provider users: they run the platform, they do not need to
    know who a natural person is."""


FULL: Final = "full"
NONE: Final = "none"
_STRENGTH: Final = {"none": 0, "name": 1, "phone": 1, "id_number": 1, "partial": 1, "full": 2}


def strength(rule: str) -> int:
    """0 shown as is, 1 partly masked, 2 fully masked: how much a rule hides."""
    return _STRENGTH[rule]


def display_rule(viewer: Viewer, *, level: int, rule: str) -> str:
    """The masking rule to apply to a field of classification ``level`` whose catalog masking
    rule is ``rule``, for ``viewer``; ``"none"`` means the value is shown as is."""
    if viewer is Viewer.OWNER:
        return NONE
    if level >= 5:
        return FULL
    if viewer is Viewer.CONSENTED:
        if level <= 3:
            return NONE
        return rule if rule != NONE else "partial"
    # Public readers and staff: personal data is always masked by its rule; sensitive fields
    # without a rule are hidden entirely.
    if level >= 4:
        return rule if rule != NONE else FULL
    if viewer is Viewer.PUBLIC and level == 3 and rule == NONE:
        return "partial"
    return rule


class FieldRule(Protocol):
    @property
    def code(self) -> str: ...

    @property
    def classification_level(self) -> int: ...

    @property
    def masking(self) -> str: ...


def mask_record(
    fields: Iterable[FieldRule], data: Mapping[str, Any], viewer: Viewer
) -> dict[str, Any]:
    """``data`` as ``viewer`` may see it. Fields the catalog does not know are dropped for every
    viewer but the owner: what is not described cannot be classified."""
    out: dict[str, Any] = {}
    known = {field.code: field for field in fields}
    for key, value in data.items():
        spec = known.get(key)
        if spec is None:
            if viewer is Viewer.OWNER:
                out[key] = value
            continue
        rule = display_rule(viewer, level=spec.classification_level, rule=spec.masking)
        if rule == NONE or value is None:
            out[key] = value
        else:
            out[key] = mask_value(rule, str(value))
    return out


# --- the at-rest envelope -------------------------------------------------------------------

ENVELOPE_KEY: Final = "enc"
ENCRYPTED_LEVEL: Final = 4
"""Fields of this classification level and above are stored encrypted (GB/T 39786-2021 §8.4 e:
重要数据存储机密性)."""


def is_envelope(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and len(value) == 1
        and isinstance(value.get(ENVELOPE_KEY), str)
        and ":" in value[ENVELOPE_KEY]
    )


def make_envelope(key_id: str, token: bytes) -> dict[str, str]:
    return {ENVELOPE_KEY: f"{key_id}:{base64.b64encode(token).decode()}"}


def open_envelope(value: Mapping[str, str]) -> tuple[str, bytes]:
    key_id, _, encoded = value[ENVELOPE_KEY].partition(":")
    return key_id, base64.b64decode(encoded, validate=True)


def field_aad(dataset_code: str, field_code: str) -> bytes:
    """Binds a ciphertext to its dataset and field, so that it cannot be moved to another one."""
    return f"creditbridge:record:{dataset_code}:{field_code}".encode()
