"""Retention: personal data removed once its clock has run out."""
