"""The exchange tests' node: the province, initialised as the console would."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from creditbridge.core.actors import CONSOLE
from creditbridge.exchange import service

from .helpers import TEST


@pytest.fixture
def province(session: Session) -> str:
    service.init_node(
        session,
        CONSOLE,
        code="340000",
        level="province",
        name="安徽省融资信用服务平台",
        url="https://xyd.ah.example/",
        settings=TEST,
    )
    return "340000"
