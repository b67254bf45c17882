"""On-call: duty rosters per site and role, staff pages, acknowledgement and escalation."""
