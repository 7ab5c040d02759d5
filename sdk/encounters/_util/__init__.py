"""Small pieces the SDK's services share: keyed locks (:mod:`.locks`) and bounded
caches (:mod:`.cache`). Private to the SDK and the daemon; not a public API."""
