"""TLS for the built-in balancer: contexts, SNI, the accepting side, upstream TLS."""
