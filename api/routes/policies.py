"""Placeholder router, filled in by the policies work."""

from fastapi import APIRouter

router = APIRouter(tags=["policies"])
