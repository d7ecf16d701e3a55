"""The pure rules of settlement: policy, the split, coverage in force, ledger journals."""
