"""The paper exchange: a venue adapter over the one matching kernel, never a flag in a broker."""
