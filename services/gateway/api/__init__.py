"""HTTP routes of the gateway itself: API clients, overviews, and the forwarding to the services."""
