"""Request and response models of the enrollment API (national field names, 中文 + English)."""
