"""Campaigns: encounters played one after another, with state carried from each
finished session into the next.

A :class:`CampaignSpec` lists steps, one encounter each. A :class:`CampaignRun` is one
player's way through a campaign: which steps are done or skipped, the sessions that
moved it, and ``state``, a small dict of JSON values built from finished sessions. The
run's state reaches the next generation or session through
:meth:`CampaignManager.player_context`, which puts it into ``PlayerContext.attributes``.

What a finished session offers is one flat dict, :func:`session_state`. A completed
step copies the keys named in ``carry_forward`` into the run's state (same key), then
applies its ``transformations`` in order; each sees the results of the ones before.

Transformations are data, never code: a fixed set of named operations with
parameters (``{"op": "add", "source": "rewards.experience", "target": "xp"}``). A
campaign loaded from a file, the store or an HTTP body cannot run anything; an unknown
``op`` is refused like any other bad field. The operations (``source`` is a session
key from :func:`session_state`, or ``state.<key>`` for the run's state; a missing
source leaves the target unchanged):

- ``copy``: ``target = source``.
- ``set``: ``target = value``.
- ``add``: ``target = target + (source or value)``; a missing target counts as 0.
- ``multiply``: ``target = target * (source or value)``; a missing target stays
  missing (there is nothing to scale: set it first, e.g. in ``initial_state``).
- ``append``: append ``source`` or ``value`` to the list ``target`` (a list is appended
  item by item); a missing target starts empty; the newest 32 items are kept.
- ``set_if_completed``: ``target = value`` when ``source`` is exactly true, e.g. an
  optional objective ``objectives.<id>`` the player completed.
- ``set_if_equals``: ``target = value`` when ``source`` equals ``equals``, e.g.
  ``choices.<choice id>`` equals ``"spare"``.
- ``clamp``: ``target = source`` (or ``target`` itself without a source) bounded to
  ``min`` and/or ``max``.

Where a session key's kind is known (:data:`SESSION_KEYS`), a campaign that feeds it to
an operation of the wrong kind (``add`` from ``outcome``) is refused when saved; values
from ``state.<key>`` are checked when applied (see :meth:`CampaignManager.advance`).

Failed and abandoned sessions: by default (``on_failure: "retry"``) the step stays
current and the state is unchanged, so the player can play the encounter again. A step
with ``on_failure: "skip"`` is passed over instead; steps that list it as a
prerequisite are then skipped as well (a prerequisite must be *completed*). That is
what prerequisites are for: branches that only open when an earlier encounter was won.

Limits, stated once:

- A run follows the stored campaign by encounter id, not a copy of it: fixing a
  transformation or adding a step with :meth:`CampaignManager.save_campaign` applies to
  runs in progress; completed steps are never replayed.
- One run is advanced by one task at a time (a lock per run in the manager), each
  session is applied at most once (its id is kept), and a player has one active run
  per campaign. These guards hold within one :class:`CampaignManager` (use one per
  store): the store's documents are last-writer-wins with no compare-and-set yet, so two processes
  advancing the same run at the same moment are not guarded against each other.
- ``choices.<choice id>`` keys are only predictable when choices are recorded with
  known ids: ``Engine.record_choice(..., choice_id=...)``; without one the id is random.

The package: :mod:`.limits` (limits, errors), :mod:`.values` (state values, session
keys), :mod:`.transformations`, :mod:`.model` (campaign and run), :mod:`.state`
(:func:`session_state`, :func:`apply_step`), :mod:`.parse` and :mod:`.manager`.
"""

from .limits import (
    ACTIVE_KIND,
    CAMPAIGN_KIND,
    MAX_LIST_ITEMS,
    MAX_NUMBER,
    MAX_SESSION_IDS,
    MAX_STATE_CHARS,
    MAX_STATE_KEYS,
    MAX_STEPS,
    MAX_TEXT,
    RUN_KIND,
    CampaignError,
    CampaignNotFound,
    CampaignRunNotFound,
)
from .manager import CampaignManager
from .model import (
    CampaignRun,
    CampaignSpec,
    CampaignStep,
    RunStatus,
)
from .parse import parse_campaign
from .state import (
    apply_step,
    session_state,
)
from .transformations import (
    OPS,
    AddOp,
    AppendOp,
    ClampOp,
    CopyOp,
    MultiplyOp,
    SetIfCompletedOp,
    SetIfEqualsOp,
    SetOp,
    Transformation,
)
from .values import (
    SESSION_FAMILIES,
    SESSION_KEYS,
    Scalar,
    Value,
    session_key_kind,
)

__all__ = [
    "ACTIVE_KIND",
    "CAMPAIGN_KIND",
    "MAX_LIST_ITEMS",
    "MAX_NUMBER",
    "MAX_SESSION_IDS",
    "MAX_STATE_CHARS",
    "MAX_STATE_KEYS",
    "MAX_STEPS",
    "MAX_TEXT",
    "OPS",
    "RUN_KIND",
    "SESSION_FAMILIES",
    "SESSION_KEYS",
    "AddOp",
    "AppendOp",
    "CampaignError",
    "CampaignManager",
    "CampaignNotFound",
    "CampaignRun",
    "CampaignRunNotFound",
    "CampaignSpec",
    "CampaignStep",
    "ClampOp",
    "CopyOp",
    "MultiplyOp",
    "RunStatus",
    "Scalar",
    "SetIfCompletedOp",
    "SetIfEqualsOp",
    "SetOp",
    "Transformation",
    "Value",
    "apply_step",
    "parse_campaign",
    "session_key_kind",
    "session_state",
]
