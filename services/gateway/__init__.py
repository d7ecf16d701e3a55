"""The gateway service: the single entry point: routing to the services, API keys and scopes, the merged
API documentation.
"""
