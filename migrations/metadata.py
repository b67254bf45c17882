"""Every model module imported, so Base.metadata is complete (migrations, autogenerate checks, tests).

It lives here, not in core/, because core must not import the domains.
"""

from __future__ import annotations

from campaigns import models as campaign_models  # noqa: F401
from care import models as care_models  # noqa: F401
from community import models as community_models  # noqa: F401
from content import models as content_models  # noqa: F401
from core import channels, meta, outbox  # noqa: F401
from core.db import Base
from dashboards import indexes as dashboard_indexes  # noqa: F401
from loyalty import models as loyalty_models  # noqa: F401
from media import models as media_models  # noqa: F401
from messaging import models as messaging_models  # noqa: F401
from oncall import models as oncall_models  # noqa: F401
from patients import guardian_models  # noqa: F401
from patients import models as patient_models  # noqa: F401
from privacy import models as privacy_models  # noqa: F401
from social import models as social_models  # noqa: F401

metadata = Base.metadata
