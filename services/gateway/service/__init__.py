"""The gateway's use cases: API keys and their callers, the national interface's sign-ins and stored answers."""
