"""The console: server-rendered pages for internal users over the services' public APIs."""
