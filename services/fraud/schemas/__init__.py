"""Request and response models of the fraud service (national field names, described in 中文 + English)."""
