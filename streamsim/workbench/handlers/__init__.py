"""Handlers that ship with streamsim: the blog's, and the badge handler (streamsim.game.handler)."""
