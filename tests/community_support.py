"""Moved: the community factories are in tests/factories.py. This name stays only for test files
written before the move (tests/test_ws_errors.py); import from tests.factories instead."""

from tests.factories import MODERATOR, as_patient, make_group, member_of, new_member, staff

__all__ = ["MODERATOR", "as_patient", "make_group", "member_of", "new_member", "staff"]
