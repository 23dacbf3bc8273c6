"""Example variants."""
