"""OAuth 2 endpoints (RFC 6749 token, RFC 7009 revocation, RFC 7662 introspection,
RFC 8414 / RFC 9728 discovery) and the registered clients that may introspect."""
