"""The fitted segmentation model: everything needed to score new customers.

A :class:`SegmentModel` holds plain data (roles, analysis date, feature lists, names) and two
scikit-learn objects (the preprocessing ``ColumnTransformer`` and the clustering estimator),
so that :mod:`custseg.persist` can save it with skops and load it without running code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from custseg.errors import InputError


class SegmentModel:
    """A fitted segmentation, able to assign new customers to its segments.

    Use :func:`custseg.load_model` to read one from disk and :meth:`predict` to score.

    Parameters
    ----------
    kind : {"transactions", "customers"}
        The kind of table it was trained on; new data must be of the same kind.
    preprocessor : sklearn ColumnTransformer
        Fitted preprocessing.
    estimator : estimator with ``predict``
        Fitted clustering model.
    label_map : ndarray of int
        ``label_map[estimator_label + 1]`` is the canonical segment number (-1 stays noise).
    segment_names, actions : list of str
        Per canonical segment number.
    numeric, categorical : list of str
        Feature columns used, in order.
    settings : dict
        Roles, analysis date, non-product codes, customer-table column plan, versions.
    new_customers : NewCustomerModels, optional
        For invoice lines: the first-purchase segment classifier and the next-year purchase
        forecast (:mod:`custseg.newcustomers`); their columns are added to predictions.
    drift_reference : dict, optional
        The training customers' feature distributions and segment shares, as plain data
        (:func:`custseg.drift.reference`), for :func:`custseg.drift.check`.
    """

    new_customers: Any = None
    """Class default, so that models saved before these models existed still load."""
    drift_reference: dict[str, Any] | None = None
    """Class default: a model saved before custseg stored the reference loads with None, and
    :func:`custseg.drift.check` says it cannot check drift."""
    noise_name: str = "Noise"
    """Name of segment -1 (customers a density method leaves in no segment); set from the
    noise group's own name, e.g. "Outliers: very large accounts"."""

    def __init__(
        self,
        *,
        kind: str,
        preprocessor: Any,
        estimator: Any,
        label_map: np.ndarray,
        segment_names: list[str],
        actions: list[str],
        numeric: list[str],
        categorical: list[str],
        feature_columns: list[str],
        settings: dict[str, Any],
        new_customers: Any = None,
        drift_reference: dict[str, Any] | None = None,
    ) -> None:
        self.kind = kind
        self.preprocessor = preprocessor
        self.estimator = estimator
        self.label_map = label_map
        self.segment_names = segment_names
        self.actions = actions
        self.numeric = numeric
        self.categorical = categorical
        self.feature_columns = feature_columns
        self.settings = settings
        self.new_customers = new_customers
        self.drift_reference = drift_reference

    @property
    def analysis_date(self) -> str | None:
        """The day transaction features are measured at (ISO), or None for customer tables."""
        value = self.settings.get("analysis_date")
        return None if value is None else str(value)

    @property
    def algorithm(self) -> str:
        """The clustering family of the model (``kmeans``, ``gmm``, ...)."""
        return str(self.settings.get("algorithm", "kmeans"))

    def model_inputs(self, features: pd.DataFrame) -> np.ndarray:
        from custseg.preprocess import categorical_as_text, check_finite

        frame = categorical_as_text(features, self.categorical)
        X = self.preprocessor.transform(frame[self.numeric + self.categorical])
        X = np.asarray(X, dtype=np.float64)
        check_finite(X, [str(n) for n in self.preprocessor.get_feature_names_out()])
        return X

    def assign(self, features: pd.DataFrame) -> np.ndarray:
        """Canonical segment numbers for a feature frame (one row per customer)."""
        return self.assign_with_probability(features)[0]

    def assign_with_probability(
        self, features: pd.DataFrame
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Segment numbers, and for mixture models each customer's membership probability
        of that segment (None for other models)."""
        if features.empty:
            return np.zeros(0, dtype=np.int64), None
        X = self.model_inputs(features)
        labels = np.asarray(self.label_map[self.estimator.predict(X) + 1], dtype=np.int64)
        probability = None
        if hasattr(self.estimator, "predict_proba"):
            probability = np.asarray(self.estimator.predict_proba(X)).max(axis=1)
        return labels, probability

    def predict(
        self,
        source: str | Path | pd.DataFrame,
        *,
        sheet: str | None = None,
        table: str | None = None,
        columns: dict[str, str] | None = None,
        date_format: str | None = None,
        analysis_date: str | None = None,
    ) -> pd.DataFrame:
        """Assign the customers in ``source`` to segments.

        Parameters
        ----------
        source : path or DataFrame
            New data of the kind the model was trained on: customer rows, or invoice lines
            (turned into features with the stored analysis date and cleaning rules).
        table : str, optional
            The table of a database source (see :func:`custseg.segment`).
        sheet : str, optional
            Excel sheet.
        columns : dict, optional
            Role -> column name overrides, as in :func:`custseg.segment`.
        date_format : str, optional
            strptime format of the date column, when detection cannot tell.
        analysis_date : str, optional
            Day (YYYY-MM-DD) at which transaction features are measured; by default the
            model's own analysis date, so that scoring the training file reproduces its labels.
            Pass a later day to score lines that came after it.

        Returns
        -------
        pandas.DataFrame
            ``customer_id``, ``segment``, ``segment_name``, then the features.

        Examples
        --------
        >>> model = custseg.load_model("out/model.skops")  # doctest: +SKIP
        >>> model.predict("new_orders.csv").head()  # doctest: +SKIP
        """
        features, prepared = self.features_for(
            source,
            sheet=sheet,
            table=table,
            columns=columns,
            date_format=date_format,
            analysis_date=analysis_date,
        )
        labels, probability = self.assign_with_probability(features)
        forecast = None
        if self.new_customers is not None and prepared.lines is not None:
            start = analysis_date or self.settings.get("analysis_date")
            forecast = self.new_customers.predict_sales(prepared.lines.sales, str(start))
        return self.label_frame(features, labels, probability, forecast)

    def features_for(
        self,
        source: str | Path | pd.DataFrame,
        *,
        sheet: str | None = None,
        table: str | None = None,
        columns: dict[str, str] | None = None,
        date_format: str | None = None,
        analysis_date: str | None = None,
    ) -> tuple[pd.DataFrame, Any]:
        """Turn new data into the model's features, with the model's stored rules (its column
        roles, analysis date, non-product codes and customer-table plan), and check that the data
        is of the model's kind and gives every feature it needs. Returns the features and the
        preparation (:class:`custseg.prepare.Prepared`)."""
        import warnings

        from custseg.engines.duckdb import DuckDBEngine
        from custseg.errors import CustsegWarning
        from custseg.features.customers import CustomerColumns
        from custseg.prepare import Timer, prepare, where

        model = self
        settings = model.settings
        merged = {**settings.get("column_overrides", {}), **(columns or {})}
        plan = None
        if model.kind == "customers":
            # Columns the model left out (unrelated numbers, names, e-mails) may be absent.
            plan = CustomerColumns(**settings["customer_columns"]).for_scoring(
                model.numeric + model.categorical
            )
        with DuckDBEngine() as engine:
            prepared = prepare(
                engine,
                source,
                Timer(None),
                kind=model.kind,
                sheet=sheet,
                table=table,
                columns=merged,
                date_format=date_format,
                # The format given at training, where it reads the new file's dates.
                preferred_date_format=settings.get("date_format_given"),
                analysis_date=analysis_date or settings.get("analysis_date"),
                non_product_codes=settings.get("non_product_codes"),
                customer_plan=plan,
                # The columns the model was trained on, where the new data has them: an order
                # total is not taken for the line amount of a model trained on prices.
                model_roles=settings.get("roles") if model.kind == "transactions" else None,
            )
            if (
                prepared.schema.kind == "transactions"
                and model.new_customers is not None
                and prepared.engine == "duckdb"  # a database's or Spark's lines stay there
            ):
                from custseg.newcustomers.data import sale_lines_from_engine

                prepared.lines = sale_lines_from_engine(engine, prepared)
        model.require_kind(prepared.schema.kind, where(prepared.info))
        missing = [c for c in model.numeric + model.categorical if c not in prepared.features]
        if missing:
            raise InputError(
                f"{where(prepared.info)} cannot give the feature '{missing[0]}' the model needs. "
                f"Columns found: {', '.join(prepared.info.columns)}."
            )
        for message in prepared.warnings:
            warnings.warn(message, CustsegWarning, stacklevel=3)
        return prepared.features, prepared

    def require_kind(self, kind: str, where: str) -> None:
        """Refuse data of the other kind with a message that says which is which."""
        if kind != self.kind:
            raise InputError(
                f"{where} looks like a {kind} table, but the model was trained on {self.kind}. "
                f"Score {self.kind} data with this model, or pass --kind {self.kind} if "
                "detection is wrong."
            )

    def label_frame(
        self,
        features: pd.DataFrame,
        labels: np.ndarray,
        probability: np.ndarray | None = None,
        forecast: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """The output table: id, segment, name, (membership probability), the features in
        original units, then (for invoice lines with new-customer models) the forecast
        columns of :data:`custseg.newcustomers.models.FORECAST_COLUMNS`."""
        names = np.asarray([*self.segment_names, self.noise_name], dtype=object)
        out = pd.DataFrame(
            {
                "customer_id": features["customer_id"].astype(str).to_numpy(),
                "segment": labels.astype(np.int64),
                "segment_name": names[labels] if len(labels) else np.array([], dtype=object),
            }
        )
        if probability is not None or hasattr(self.estimator, "predict_proba"):
            out["segment_probability"] = (
                np.round(probability, 6) if probability is not None else np.zeros(0)
            )
        rest = features[[c for c in self.feature_columns if c in features]].reset_index(drop=True)
        table = pd.concat([out, rest], axis=1)
        if forecast is not None:
            from custseg.newcustomers.models import FORECAST_COLUMNS

            extra = forecast.set_index("customer_id").reindex(table["customer_id"])
            for col in FORECAST_COLUMNS:
                table[col] = extra[col].reset_index(drop=True)
        return table

    def __repr__(self) -> str:
        return (
            f"SegmentModel(kind={self.kind!r}, segments={len(self.segment_names)}, "
            f"features={len(self.feature_columns)})"
        )
