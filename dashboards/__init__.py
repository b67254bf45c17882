"""Marketing dashboards: SQL aggregates over the other domains' tables (read-only), staff only."""
