"""Alembic environment of the enrollment service."""

from common.events.tables import event_metadata
from common.migrations import run_env
from enrollment.config import Settings
from enrollment.models import Base

run_env([Base.metadata, event_metadata], default_url=lambda: Settings().database_url)
