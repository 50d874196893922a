"""Names of the variables a campaign's mail or letter job carries beside its template's.

The worker writes them into the job's ``variables`` map (``outbound.mail``,
``outbound.print``); the connectors read them back to name the campaign and whom to tell in an
alert about the job. Writer and readers share the names here, as they share the dead-letter
headers in :mod:`schemas.deadletter`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

CAMPAIGN_ID = "campaign_id"
CAMPAIGN_NAME = "campaign_name"
RESPONSIBLE = "responsible"
"""Who the campaign's request named as responsible for it."""


class JobCampaign(NamedTuple):
    """The campaign a job belongs to and its responsible; None for what the job does not name."""

    campaign_id: str | None
    responsible: str | None


def campaign_of(variables: Mapping[str, str]) -> JobCampaign:
    """Read the campaign and its responsible from a job's variables."""
    return JobCampaign(variables.get(CAMPAIGN_ID), variables.get(RESPONSIBLE))
