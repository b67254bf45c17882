"""GraphQL and HTTP adapters of media (images)."""
