"""Health and key discovery."""
