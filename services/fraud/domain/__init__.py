"""The fraud rules as pure functions: facts in, hits out (stdlib and Decimal only)."""
