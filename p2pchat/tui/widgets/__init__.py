"""Widgets of the p2pchat terminal app (message list, composer, bars, image view)."""
