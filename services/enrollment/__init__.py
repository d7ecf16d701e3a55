"""The enrollment service: one record per person (一人一档), coverages, contributions, waiting periods, family
mutual aid, death, eligibility look-up.
"""
