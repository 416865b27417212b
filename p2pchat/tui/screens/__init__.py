"""Screens of the p2pchat terminal app: home, invite, chat and the modal dialogs."""
