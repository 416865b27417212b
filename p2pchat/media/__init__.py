"""Image privacy: what a photo carries (inspect), stripping it (sanitize), view-once store."""
