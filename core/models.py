"""Imports every model module so Base.metadata is complete (migrations, autogenerate checks)."""

from __future__ import annotations

from core import channels, meta, outbox  # noqa: F401
from core.db import Base
from loyalty import models as loyalty_models  # noqa: F401
from patients import models as patient_models  # noqa: F401

metadata = Base.metadata
