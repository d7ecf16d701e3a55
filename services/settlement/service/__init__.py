"""Use cases of settlement, one module per concept: reference data, projections, claims, the ledger."""
