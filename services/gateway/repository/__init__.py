"""The gateway's repositories, one module per aggregate: all of its SQL; they query and flush, never commit."""
