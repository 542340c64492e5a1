"""New customers: from the first purchase, their segment and their purchases over the next year.

- :func:`fit_new_customer_models` fits, on invoice lines, a first-purchase segment classifier,
  BG/NBD + Gamma-Gamma for customers with history and a covariate model for brand-new ones,
  and returns a :class:`NewCustomerModels` (picklable, savable with skops).
- :func:`evaluate_forecast` is the time-split evaluation behind ``custseg forecast``.

See ``docs/new-customers.md``.
"""

from __future__ import annotations

from custseg.newcustomers.evaluate import ForecastEvaluation, evaluate_forecast
from custseg.newcustomers.models import (
    NEW_CUSTOMER_DAYS,
    SKOPS_TRUSTED_TYPES,
    NewCustomerModels,
    fit_new_customer_models,
    parse_horizon,
)

__all__ = [
    "NEW_CUSTOMER_DAYS",
    "SKOPS_TRUSTED_TYPES",
    "ForecastEvaluation",
    "NewCustomerModels",
    "evaluate_forecast",
    "fit_new_customer_models",
    "parse_horizon",
]
