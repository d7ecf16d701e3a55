"""Shared foundation of every service: settings, database, events, errors, money, clock, auth."""
