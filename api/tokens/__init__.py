"""Tokens: signing, issuing, refresh rotation, revocation."""
