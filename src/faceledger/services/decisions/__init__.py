"""Which laws reach each face and what they allow: assess, explain, exposure, policy, coverage, dataset labels."""
