"""Users: accounts, the current user's profile, administration."""
