"""The channel-neutral chat core: messages in, replies out, chat state, admin and scheduled jobs.

Channels (`bot.channels`) use this package; it uses the stages (ingest, persona, retrieval, router,
compose, debate) through `bot.panel`; no stage imports it.
"""
