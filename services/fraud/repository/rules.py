"""The rule library's queries: rule instances as they stand and their append-only versions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from common.repository import RepositoryBase
from fraud.models import Rule, RuleVersion


class RuleRepository(RepositoryBase[Rule]):
    model = Rule

    async def listed(self, *, family: str | None, enabled: bool | None) -> Sequence[Rule]:
        """The rule instances by id, optionally of one family, optionally only enabled (or disabled) ones."""
        query = sa.select(Rule).order_by(Rule.rule_id)
        if family is not None:
            query = query.where(Rule.family == family)
        if enabled is not None:
            query = query.where(Rule.enabled.is_(enabled))
        return (await self.session.scalars(query)).all()

    async def enabled_in(self, scopes: Iterable[str]) -> Sequence[Any]:
        """(rule_id, version, family, params, severity, scope) of the enabled instances of these scopes, by id."""
        rows = await self.session.execute(
            sa.select(Rule.rule_id, Rule.version, Rule.family, Rule.params, Rule.severity, Rule.scope)
            .where(Rule.enabled.is_(True), Rule.scope.in_(list(scopes)))
            .order_by(Rule.rule_id)
        )
        return rows.all()

    async def builtin(self, family: str) -> int | None:
        """The id of the instance of `family` shipped with the service, if it was shipped already."""
        rule_id: int | None = await self.session.scalar(sa.select(Rule.rule_id).where(Rule.builtin == family))
        return rule_id

    def add_version(self, version: RuleVersion) -> None:
        self.session.add(version)

    async def versions(self, rule_id: int) -> Sequence[RuleVersion]:
        """Every version of a rule instance, newest first."""
        rows = await self.session.scalars(
            sa.select(RuleVersion).where(RuleVersion.rule_id == rule_id).order_by(RuleVersion.version.desc())
        )
        return rows.all()
