"""Request and response models of the settlement API, one module per concept."""
