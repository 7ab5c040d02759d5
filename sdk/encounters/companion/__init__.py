"""Companions: a persona brought to life in one session (issue #10).

A :class:`Companion` takes world events and decides actions, through the LLM provider
router with tool calling or, without an LLM, through offline rules; every action passes
moderation, and what it learns of each player goes to NPC memory. A
:class:`CompanionScript` adds behaviour in the style of discord.py. See
``docs/companions.md``.
"""

from .brain import LLMBrain, system_prompt, tools_for
from .companion import LLM_EVENTS, Companion, Send, Timer
from .host import CompanionHost
from .offline import OfflineBrain
from .script import CompanionScript, Context, ScriptError, load_script

__all__ = [
    "LLM_EVENTS",
    "Companion",
    "CompanionHost",
    "CompanionScript",
    "Context",
    "LLMBrain",
    "OfflineBrain",
    "ScriptError",
    "Send",
    "Timer",
    "load_script",
    "system_prompt",
    "tools_for",
]
