"""JSON routes for the shared-data list."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog 共享清单"])
