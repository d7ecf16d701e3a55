"""The event backbone: envelope, contracts, transactional outbox, relay, idempotent consumers."""
