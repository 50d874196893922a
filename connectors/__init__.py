"""Connectors: deliver derived topics to their targets (CRM, mail, print devices, alerts).

The sink runtime consumes, batches, retries, dead-letters and commits; each target module
only says what one batch means for its target.
"""
