"""Covenants with partners and the need-to-know rules read from them."""
