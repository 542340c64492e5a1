"""Segmenting more customers than the driver holds: the choice on a sample, k-means in Spark
MLlib on every customer, the segments written by Spark as Parquet.

Up to :data:`DRIVER_LIMIT` customers a Spark job brings its customer table to the driver and
continues exactly as a DuckDB job does. Above it (or above ``spark_driver_limit``):

1. Spark computes every customer's features (the portable definitions) and keeps them cached;
2. a seeded sample of :data:`SCALE_OUT_SAMPLE` customers comes to the driver, where the usual
   comparison chooses the number of segments, within the k-means family (the one family
   Spark MLlib runs on every customer);
3. the preprocessing fitted on the sample (the same log transforms, capping and scaling a
   DuckDB job uses) is applied to every customer in Spark (``mapInPandas``), and MLlib's
   k-means, started from the sample's centres, clusters them all;
4. the model keeps MLlib's centres and assigns every customer in Spark with its own
   ``predict``, so ``custseg predict`` puts a customer in the segment Spark wrote; names,
   profiles and the report are computed on the sample with those centres;
5. Spark writes every customer's segment as Parquet (``spark_output``; ``segments.parquet``
   in the output folder by default on a local master) and counts the customers and revenue of
   each segment.

Examples
--------
>>> custseg.segment("s3a://lake/orders/", engine="spark",  # doctest: +SKIP
...                 spark_output="s3a://lake/segments/")
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from custseg.errors import InputError

DRIVER_LIMIT = 10_000_000
"""Customers a Spark job brings to the driver. At 10M customers the feature table is about
1 GB in pandas and the model stage's matrices a few GB more: what a 16-32 GB driver holds.
Above it the job scales out (this module). ``spark_driver_limit`` (``--spark-driver-limit``)
changes it."""

SCALE_OUT_SAMPLE = 200_000
"""Customers sampled to the driver to choose k when the job scales out: a segment's share in
the sample is within about 0.2 percentage point of its share among all customers, and the
comparison itself runs on a smaller sample still (:data:`custseg.models.select.MAX_SELECT`)."""

MLLIB_MAX_ITER = 40
"""Most Lloyd iterations of MLlib's k-means on every customer. It starts from the sample's
centres, which are close already: it converged in fewer on every test."""

SCALE_OUT_FAMILIES = ("auto", "kmeans")
"""Families a scaled-out job can run: k-means is the one Spark MLlib fits on every customer."""


def _spark_type(dtype: Any) -> Any:
    from pyspark.sql import types as T

    if pd.api.types.is_integer_dtype(dtype):
        return T.LongType()
    if pd.api.types.is_float_dtype(dtype):
        return T.DoubleType()
    return T.StringType()


@dataclass
class ScaleOut:
    """A Spark job past the driver limit: the cached features of every customer, in Spark.

    Made by :func:`custseg.prepare.prepare_remote`; the pipeline calls :meth:`fit`, then
    :meth:`write`, then :meth:`close`.
    """

    remote: Any
    """The :class:`custseg.engines.spark.SparkEngine`, kept open until :meth:`close`."""
    features: Any
    """Spark DataFrame of the portable ``customer_features`` of every customer (cached)."""
    n_customers: int
    analysis_date: dt.date
    output: str | None
    """Where Spark writes the segments (any path Spark writes); ``None``: a local folder."""
    driver_limit: int = DRIVER_LIMIT
    sample_size: int = 0
    written: str | None = None
    """The Parquet folder written, once :meth:`write` ran."""
    counts: dict[int, dict[str, float]] = field(default_factory=dict)
    """Customers and revenue per segment, over every customer."""
    _vectors: Any = None
    _fitted: bool = False

    def sample(self, size: int, seed: int) -> pd.DataFrame:
        """A seeded sample of ``size`` customers' raw features (the same for the same seed):
        the ``size`` smallest hashes of customer id and seed."""
        from pyspark.sql import functions as F

        self.sample_size = min(size, self.n_customers)
        ordered = self.features.orderBy(F.xxhash64(F.col("customer_id"), F.lit(seed)))
        return self.remote.collect(ordered.limit(self.sample_size), "sampling the customers")

    def fit(
        self,
        preprocessor: Any,
        template: pd.DataFrame,
        numeric: list[str],
        categorical: list[str],
        start: np.ndarray,
        seed: int,
    ) -> np.ndarray:
        """MLlib's k-means on every customer, on the features transformed by
        ``preprocessor`` (fitted on the sample), started from ``start`` (the centres chosen
        on the sample); returns the centres, in the transformed space, in ``start``'s order.
        ``template`` is the sample's feature table (its columns and types are every
        customer's).

        Started from the sample's centres, MLlib refines the solution the choice made rather
        than looking for another: from its own ``k-means||`` start it found a worse local
        optimum on the 1M-line benchmark file (adjusted Rand index 0.53 with the planted
        segments, where the sample's solution has 0.94)."""
        from pyspark.mllib.clustering import KMeans, KMeansModel
        from pyspark.sql import types as T

        from custseg.features.transactions import features_from_frame
        from custseg.preprocess import categorical_as_text

        day = self.analysis_date
        columns = numeric + categorical
        schema = T.StructType(
            [
                *[T.StructField(c, _spark_type(template[c].dtype)) for c in template.columns],
                T.StructField("x", T.ArrayType(T.DoubleType())),
            ]
        )

        def vectors(batches: Any) -> Any:
            for raw in batches:
                feats = features_from_frame(raw, day)
                X = preprocessor.transform(categorical_as_text(feats, categorical)[columns])
                yield feats.assign(x=list(np.asarray(X, dtype=np.float64)))

        self._vectors = self.features.mapInPandas(vectors, schema).cache()
        self.remote.register_cache(self._vectors)
        points = self._vectors.select("x").rdd.map(lambda row: row[0])
        model = self.remote.call(
            lambda: KMeans.train(
                points,
                int(len(start)),
                maxIterations=MLLIB_MAX_ITER,
                seed=seed,
                initialModel=KMeansModel([np.asarray(c, dtype=np.float64) for c in start]),
            ),
            "clustering every customer (MLlib k-means)",
        )
        self._fitted = True
        return np.asarray(model.clusterCenters, dtype=np.float64)

    def write(self, assign: Any, mapping: np.ndarray, names: list[str], revenue: str | None) -> str:
        """Every customer's segment, as Parquet: ``customer_id``, ``segment``,
        ``segment_name``, then the features. ``assign`` is the model's own assignment
        (transformed features -> cluster number; the nearest of MLlib's centres), so that
        ``custseg predict`` agrees with the file; ``mapping`` turns cluster numbers (plus one)
        into custseg's. Fills :attr:`counts`; returns the folder written."""
        from pyspark.sql import functions as F
        from pyspark.sql import types as T

        if not self._fitted:
            raise RuntimeError("ScaleOut.write before ScaleOut.fit")
        features = [c for c in self._vectors.columns if c != "x"]
        schema = T.StructType(
            [
                self._vectors.schema["customer_id"],
                T.StructField("segment", T.LongType()),
                T.StructField("segment_name", T.StringType()),
                *[self._vectors.schema[c] for c in features if c != "customer_id"],
            ]
        )
        label_names = np.asarray(names, dtype=object)

        def scored(batches: Any) -> Any:
            for batch in batches:
                X = np.asarray(np.stack(batch.pop("x").to_numpy()), dtype=np.float64)
                segment = mapping[np.asarray(assign(X), dtype=np.int64) + 1]
                batch.insert(1, "segment", segment.astype(np.int64))
                batch.insert(2, "segment_name", label_names[segment])
                yield batch

        frame = self._vectors.mapInPandas(scored, schema)
        target = self.output or str(Path(tempfile.mkdtemp(prefix="custseg-spark-")) / "out")
        self.remote.call(
            lambda: frame.write.mode("errorifexists").parquet(target),
            f"writing the segments to '{target}'",
        )
        self.written = target
        sums = [F.count(F.lit(1)).alias("customers")]
        if revenue is not None:
            sums.append(F.sum(revenue).alias("revenue"))
        reread = self.remote.session.read.parquet(target)
        rows = self.remote.call(
            lambda: reread.groupBy("segment").agg(*sums).collect(), "counting the segments"
        )
        self.counts = {
            int(r["segment"]): {
                "customers": int(r["customers"]),
                **({"revenue": float(r["revenue"] or 0.0)} if revenue is not None else {}),
            }
            for r in rows
        }
        return target

    def close(self) -> None:
        """Stop (or give back) the Spark session."""
        self.remote.close()


def check_scale_out_options(algorithm: str, n_customers: int, limit: int) -> None:
    """Families other than k-means cannot run past the driver limit."""
    if algorithm not in SCALE_OUT_FAMILIES:
        raise InputError(
            f"The source has {n_customers:,} customers, more than --spark-driver-limit "
            f"({limit:,}): Spark MLlib clusters them with k-means only, not {algorithm}. "
            "Pass --algorithm kmeans (or auto), or a larger --spark-driver-limit if the "
            "driver has the memory."
        )
