"""Campaigns: segments, campaigns with review, the batched runner and per-channel senders, journeys,
attribution and stats."""
