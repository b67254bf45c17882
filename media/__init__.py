"""Images: uploads sniffed, limited and re-encoded, stored locally or in any S3-compatible store, and
served through signed, expiring URLs (see media/service.py for the rules)."""
