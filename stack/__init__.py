"""Local infrastructure for development and tests: embedded PostgreSQL and the Temporal binaries."""
