"""Use cases of the pricing service: one function per thing a caller or an event asks for."""
