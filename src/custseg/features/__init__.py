"""Per-customer features: from invoice lines (RFM and more) or from a customer table."""

from custseg.features.customers import CustomerColumns, customer_features, plan_customer_columns
from custseg.features.transactions import TRANSACTION_FEATURES, transaction_features

__all__ = [
    "TRANSACTION_FEATURES",
    "CustomerColumns",
    "customer_features",
    "plan_customer_columns",
    "transaction_features",
]
