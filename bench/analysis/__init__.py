"""Reading saved tables: the price book and billing, statistics, the scaling model, the claim, compare.
Never runs work."""
