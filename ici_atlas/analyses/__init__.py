"""Analyses over the store and the curated data: functions returning tables."""
