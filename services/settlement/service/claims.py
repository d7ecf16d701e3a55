"""Kept for the names other settlement modules still import from here; the claims path lives in
service/visits.py, service/settle.py, service/reversal.py, service/settlements.py and service/ledger.py."""

from __future__ import annotations

from settlement.domain.claims import SETTLED as SETTLED
