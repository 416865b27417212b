"""Image privacy: what a photo carries (inspect), stripping it (sanitize), view-once RAM store (vault)."""
