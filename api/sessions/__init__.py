"""Sessions a user can see and end (a session is one login's refresh family)."""
