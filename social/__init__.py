"""The people layer on top of the community: follows, blocks, profiles and the following feed."""
