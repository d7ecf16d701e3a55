"""Path parameters shared by the services' routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

# A row id or stream sequence as the databases and JetStream hold them: positive and within 64 bits, so a
# giant or negative number is a 422 and never an overflow inside the driver.
PathId = Annotated[int, Path(ge=1, le=2**63 - 1, description="a positive id (64-bit)")]
