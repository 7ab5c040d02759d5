"""The bridge daemon that carries companions into game worlds: the sans-I/O protocol
core (``protocol.py``, ``frames.py``), the WebSocket edge (``server.py``) with one owner
per link (``links.py``), the deployment flow (``deployment.py``), the control API
(``control.py``), its own records (``store/``: keys, links and their outbox, deploy
tokens, beside the SDK's store) and their wiring (``daemon.py``). It depends on
:mod:`encounters`, never the other way round; ``ae`` loads its commands through the
``ae.commands`` entry point (``cli.py``).
"""
