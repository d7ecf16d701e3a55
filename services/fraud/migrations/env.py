"""Alembic environment of the fraud service."""

from common.events.tables import event_metadata
from common.migrations import run_env
from fraud.config import Settings
from fraud.models import Base

run_env([Base.metadata, event_metadata], default_url=lambda: Settings().database_url)
