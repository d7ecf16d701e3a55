"""Use cases of enrollment: each loads what it needs through the unit of work, asks the domain, saves, publishes."""
