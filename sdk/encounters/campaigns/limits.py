"""Campaign limits, store document kinds and the errors campaigns raise."""

from __future__ import annotations

from ..errors import EncountersError, NotFound

#: Store document kinds.
CAMPAIGN_KIND = "campaign"
RUN_KIND = "campaign_run"
ACTIVE_KIND = "campaign_active"

MAX_STEPS = 100
MAX_STATE_KEYS = 100
MAX_LIST_ITEMS = 32
MAX_TEXT = 200
#: Numbers in a run's state stay within +-MAX_NUMBER; runaway arithmetic is an error.
MAX_NUMBER = 10**12
#: The whole state, as JSON, stays below this many characters.
MAX_STATE_CHARS = 32_000
#: Sessions remembered per run (for idempotence); older ids are dropped. A dropped id
#: cannot be applied twice either: its step is no longer current.
MAX_SESSION_IDS = 1000
#: PlayerContext limits (see models/player.py) and how long carried text may get there.
MAX_ATTRIBUTES = 32
MAX_ATTRIBUTE_KEY = 40
MAX_ATTRIBUTE_TEXT = 80


# -- errors ------------------------------------------------------------------------------


class CampaignError(EncountersError):
    """A campaign operation was refused: a session that does not fit the run, a run
    that is finished, a second active run, or a transformation that cannot apply."""


class CampaignNotFound(NotFound):
    def __init__(self, campaign_id: str) -> None:
        self.campaign_id = campaign_id
        super().__init__(
            f"no stored campaign with id {campaign_id!r}; save it with save_campaign first"
        )


class CampaignRunNotFound(NotFound):
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(
            f"no campaign run with id {run_id!r}; start(campaign_id, player_id) returns "
            "the run and its id"
        )
