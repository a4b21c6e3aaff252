"""The example protected resource."""
