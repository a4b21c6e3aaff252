"""Authentication: register, login, refresh, logout."""
