"""The bridge daemon that carries companions into Garry's Mod and Minecraft.

Empty for now: the protocol core, WebSocket edge and control API arrive with the
bridge daemon issue. It depends on :mod:`encounters`, never the other way round.
"""
