"""Segment profiles, distinguishing features, names and recommended actions."""

from custseg.profile.naming import (
    CUSTOMER_ACTIONS,
    RFM_NAMING_RULES,
    name_customer_segments,
    name_rfm_segments,
    noise_entry,
)
from custseg.profile.profiles import (
    distinguishing_features,
    segment_profiles,
    summarize_distinguishing,
)

__all__ = [
    "CUSTOMER_ACTIONS",
    "RFM_NAMING_RULES",
    "distinguishing_features",
    "name_customer_segments",
    "name_rfm_segments",
    "noise_entry",
    "segment_profiles",
    "summarize_distinguishing",
]
