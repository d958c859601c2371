"""The project's tools: the dev stack, dev tokens, migrations, replay, generated documents.

They drive the services from outside (each one found through `tools.registry`); the
library in `shared/` never imports them.
"""
