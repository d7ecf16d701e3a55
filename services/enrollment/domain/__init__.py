"""Pure rules of enrollment: certno, waiting periods, continuous-enrollment incentives, masking."""
