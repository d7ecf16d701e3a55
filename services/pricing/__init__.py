"""The pricing service: pharmacy sales prices, reference prices, red/yellow/green lights, the volume-price
index, public price comparison.
"""
