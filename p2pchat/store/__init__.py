"""What p2pchat keeps on disk: identity key, contacts, settings."""
