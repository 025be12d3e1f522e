"""Figures over saved tables and the HTML page that holds them. Never runs work."""
