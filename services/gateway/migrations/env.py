"""Alembic environment of the gateway service."""

from common.events.tables import event_metadata
from common.migrations import run_env
from gateway.config import Settings
from gateway.models import Base

run_env([Base.metadata, event_metadata], default_url=lambda: Settings().database_url)
