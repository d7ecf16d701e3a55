"""Request and response models of the pricing service (national field names, 中文 + English)."""
