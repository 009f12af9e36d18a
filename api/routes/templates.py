"""Placeholder router, filled in by the templates work."""

from fastapi import APIRouter

router = APIRouter(tags=["templates"])
