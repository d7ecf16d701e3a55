"""Alembic environment of the pricing service."""

from common.events.tables import event_metadata
from common.migrations import run_env
from pricing.config import Settings
from pricing.models import Base

run_env([Base.metadata, event_metadata], default_url=lambda: Settings().database_url)
