"""Use cases of the fraud service: one function per use case; repositories flush, never commit."""
