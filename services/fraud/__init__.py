"""The fraud service: the rule library: real-time review, post-event rules, findings that become
deductions, backtests.
"""
