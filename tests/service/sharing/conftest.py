"""Fixtures shared by the sharing service tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from server.services.sharing import visits
from server.services.sharing.visit_buffer import VisitBuffer


@pytest.fixture
async def buffer() -> AsyncIterator[VisitBuffer]:
    """A buffer writing through the real writer; whatever a test leaves pending is written."""
    buffer = visits.new_visit_buffer()
    yield buffer
    await buffer.stop()
