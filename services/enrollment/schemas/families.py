"""Family mutual aid (家庭共济): binding relatives to an employee's personal account."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from enrollment.schemas.base import Strict


class FamilyIn(Strict):
    """Bind close relatives to an employee's personal account (家庭共济)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"holder_psn_no": "P0A1B2C3D4E5F6071829", "member_psn_nos": ["P1B2C3D4E5F607182930"]}
            ]
        },
    )

    holder_psn_no: str = Field(max_length=20, description="共济账户持有人 the employee")
    member_psn_nos: list[Annotated[str, StringConstraints(max_length=20)]] = Field(
        min_length=1, max_length=20, description="共济人员 relatives"
    )


class FamilyOut(BaseModel):
    holder_psn_no: str
    member_psn_nos: list[str]
