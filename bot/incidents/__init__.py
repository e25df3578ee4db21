"""Incidents: declaring them, their roles, severity and status, their channels, and triage of alerts no incident holds."""
