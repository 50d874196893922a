"""Streams: the Faust worker, its domains, its HTTP API, settings, observability and the CLI."""
