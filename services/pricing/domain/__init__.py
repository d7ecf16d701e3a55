"""Pure rules of price monitoring: the reference price, the light of a price, the volume-price index."""
