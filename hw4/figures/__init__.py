"""Figures per question, drawn from what the notebooks computed (transfer.py: Q3)."""
