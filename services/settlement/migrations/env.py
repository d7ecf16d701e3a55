"""Alembic environment of the settlement service."""

from common.events.tables import event_metadata
from common.migrations import run_env
from settlement.config import Settings
from settlement.models import Base

run_env([Base.metadata, event_metadata], default_url=lambda: Settings().database_url)
