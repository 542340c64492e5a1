"""What a customer's first purchase shows: basket, price level, timing, country and the kinds
of products bought.

Product kinds come from a small text model fitted on the catalogue: TF-IDF of description words
(or of product-code characters when there are no descriptions) clustered by k-means into
:data:`N_PRODUCT_CATEGORIES` categories, each named after its top words. The fitted model is a
plain scikit-learn :class:`~sklearn.pipeline.Pipeline`, so it saves with skops.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer

from custseg.newcustomers.purchases import CustomerPurchases, as_purchases

#: Product categories. Eight is enough to tell gifts from kitchenware from decorations in a
#: gift-shop catalogue, and few enough that each is bought by many first baskets.
N_PRODUCT_CATEGORIES = 8
#: Words that describe a variant rather than a kind of product (colours, sizes, packaging).
#: Without them the categories split by colour ("PINK", "RED") instead of by product kind.
VARIANT_WORDS: frozenset[str] = frozenset(
    {
        "black", "blue", "brown", "cream", "gold", "green", "grey", "ivory", "orange", "pink",
        "purple", "red", "silver", "white", "yellow", "small", "large", "mini", "jumbo", "big",
        "set", "sets", "pack", "box", "assorted", "colour", "colours", "design", "of",
    }
)  # fmt: skip
#: Dimensions of the latent semantic analysis the categories are clustered in.
LSA_DIMENSIONS = 50
#: Words a category name is made of.
CATEGORY_NAME_WORDS = 2
#: A word must appear in this many products to be a TF-IDF term (drops one-off spellings).
MIN_PRODUCTS_PER_WORD = 2

#: First-purchase features: name -> meaning. ``hour`` needs times in the dates, ``country`` a
#: country column; the category shares (``category_<name>``) need products or descriptions.
FIRST_PURCHASE_FEATURES: dict[str, str] = {
    "first_basket_value": "value of the first purchase (sum of quantity x unit price)",
    "first_n_items": "items in the first purchase (sum of quantities)",
    "first_n_products": "distinct products in the first purchase (lines when no product column)",
    "first_mean_unit_price": "mean unit price of the first purchase's lines",
    "first_day_of_week": "day of week of the first purchase (0 = Monday)",
    "first_hour": "hour of the day of the first purchase (when dates have times)",
    "country": "country of the first purchase (when there is a country column)",
}


def product_texts(sales: pd.DataFrame | CustomerPurchases) -> tuple[pd.Series, str | None]:
    """The text describing each product, and what it was made from.

    Returns a Series indexed by product key (the product code, else the description; trimmed,
    upper case) holding the most frequent description of that product (else its code), and
    ``"description"``, ``"product"`` or ``None`` when neither column has values.

    Examples
    --------
    >>> s = pd.DataFrame({"customer_id": ["a"] * 3, "ts": pd.to_datetime(["2021-01-01"] * 3),
    ...     "amount": [1.0] * 3, "product": ["A", "A", "B"], "description": ["MUG", "MUG ", "JUG"]})
    >>> texts, source = product_texts(s)
    >>> texts.to_dict(), source
    ({'A': 'MUG', 'B': 'JUG'}, 'description')
    """
    purchases = as_purchases(sales)
    return purchases.product_texts.copy(), purchases.text_source


#: Words of three letters or more; digits and sizes such as "10CM" are not product kinds.
WORD_PATTERN = r"(?u)\b[a-zA-Z]{3,}\b"


def fit_product_categories(
    texts: pd.Series, source: str, *, n_categories: int = N_PRODUCT_CATEGORIES, seed: int = 0
) -> tuple[Pipeline | None, list[str]]:
    """Cluster product texts into categories; returns the fitted pipeline and category names.

    Descriptions are split into words (:data:`VARIANT_WORDS` and English stop words left
    out); bare product codes into character 2- and 3-grams, so codes of one family
    (``85123A``, ``85123B``) fall together. Returns ``(None, [])`` when fewer than two
    distinct products have text.

    Examples
    --------
    >>> texts = pd.Series(["TEA MUG", "COFFEE MUG", "MUG TREE", "PAPER NAPKIN",
    ...                    "PAPER CUP", "NAPKIN RING"])
    >>> model, names = fit_product_categories(texts, "description", n_categories=2)
    >>> sorted(names)
    ['mug coffee', 'paper napkin']
    """
    unique = pd.Series(texts.unique())
    if len(unique) < 2:
        return None, []
    if source == "description":
        vectorizer = TfidfVectorizer(
            token_pattern=WORD_PATTERN,
            stop_words=sorted(ENGLISH_STOP_WORDS | VARIANT_WORDS),
            min_df=min(MIN_PRODUCTS_PER_WORD, max(1, len(unique) // 10)),
            sublinear_tf=True,
        )
    else:
        vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(2, 3), lowercase=True)
    k = min(n_categories, len(unique))
    try:
        points = vectorizer.fit_transform(unique.to_numpy())
    except ValueError:  # no word left in any text
        return None, []
    # k-means straight on sparse TF-IDF puts most products in one cluster; on a normalised
    # low-rank projection (latent semantic analysis) the categories come out balanced.
    n_dims = min(LSA_DIMENSIONS, points.shape[1] - 1, len(unique) - 1)
    steps: list[tuple[str, Any]] = [("tfidf", vectorizer)]
    if n_dims >= 2:
        # Each step is fitted once, here, and the pipeline assembled from the fitted steps
        # (fitting the whole pipeline again would repeat the TF-IDF and the projection).
        lsa = TruncatedSVD(n_components=n_dims, random_state=seed)
        normalize = Normalizer(copy=False)
        points = normalize.fit_transform(lsa.fit_transform(points))
        steps += [("lsa", lsa), ("normalize", normalize)]
    # Different texts can give the same point (only variant or stop words differ): never
    # ask k-means for more categories than there are distinct points.
    dense = points.toarray() if hasattr(points, "toarray") else np.asarray(points)
    k = min(k, len(np.unique(np.round(dense, 9), axis=0)))
    if k < 2:
        return None, []
    kmeans = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(points)
    model = Pipeline([*steps, ("kmeans", kmeans)])
    terms = model[0].get_feature_names_out()
    centers = model[-1].cluster_centers_
    if n_dims >= 2:
        centers = model.named_steps["lsa"].inverse_transform(centers)
    names: list[str] = []
    for center in centers:
        top = [str(terms[i]).strip() for i in np.argsort(-center)[:CATEGORY_NAME_WORDS]]
        base = " ".join(t for t in top if t) or "other"
        # Two categories can share their top words; number the later ones (the feature
        # columns are made from the names, so the names must stay distinct after that).
        name, n = base, 1
        while category_column(name) in {category_column(x) for x in names}:
            n += 1
            name = f"{base} {n}"
        names.append(name)
    return model, names


def category_column(name: str) -> str:
    """Feature name of a category's share: ``category_`` + its name in snake case.

    Examples
    --------
    >>> category_column("mug coffee")
    'category_mug_coffee'
    """
    return "category_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def first_purchase_features(
    sales: pd.DataFrame | CustomerPurchases,
    *,
    categories: Pipeline | None = None,
    category_names: list[str] | None = None,
    category_source: str | None = None,
    with_hour: bool = True,
    with_country: bool = True,
) -> pd.DataFrame:
    """One row per customer of :data:`FIRST_PURCHASE_FEATURES` and category shares.

    A customer's first purchase is their first invoice (the invoice of their earliest line),
    or all their lines of their first day when there is no invoice column.

    Parameters
    ----------
    sales : pandas.DataFrame or CustomerPurchases
        Kept sale lines (``customer_id``, ``ts``, ``quantity``, ``price``, ``amount`` and,
        when present, ``invoice``, ``product``, ``description``, ``country``), or their
        summary (:mod:`custseg.newcustomers.purchases`).
    categories, category_names, category_source : optional
        From :func:`fit_product_categories` and :func:`product_texts`; each
        ``category_<name>`` column is the share of the first purchase's value spent on
        products of that category.
    with_hour, with_country : bool
        Whether to add ``first_hour`` and ``country`` (the caller knows whether the data has
        times and countries).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id`` (text), sorted.

    Examples
    --------
    >>> s = pd.DataFrame({"customer_id": ["a", "a", "b"], "invoice": ["1", "1", "2"],
    ...     "ts": pd.to_datetime(["2021-01-04 10:00"] * 2 + ["2021-01-05 15:00"]),
    ...     "quantity": [2.0, 1.0, 4.0], "price": [5.0, 10.0, 1.5], "amount": [10.0, 10.0, 6.0]})
    >>> f = first_purchase_features(s, with_country=False)
    >>> f.loc["a"].to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'first_basket_value': 20.0, 'first_n_items': 3.0, 'first_n_products': 2.0,
     'first_mean_unit_price': 7.5, 'first_day_of_week': 0.0, 'first_hour': 10.0}
    """
    purchases = as_purchases(sales)
    first = purchases.first
    first_ts = pd.DatetimeIndex(first["first_ts"])
    out = first[
        ["first_basket_value", "first_n_items", "first_n_products", "first_mean_unit_price"]
    ].astype(np.float64)
    out["first_day_of_week"] = first_ts.day_of_week.astype(np.float64)
    if with_hour:
        out["first_hour"] = first_ts.hour.astype(np.float64)
    if with_country and "country" in first:
        out["country"] = first["country"].fillna("unknown").astype(str).astype(object)
    if categories is not None and category_names:
        k = len(category_names)
        if category_source != purchases.text_source:
            # Texts of another kind than the categories were fitted on: read as empty texts.
            empty = np.asarray(categories.predict(np.array([""], dtype=object)), dtype=np.int64)
            labels = np.full(len(purchases.texts), empty[0], dtype=np.int64)
        else:
            labels = np.asarray(categories.predict(purchases.texts), dtype=np.int64)
        n = len(purchases.ids)
        summed = np.bincount(
            purchases.text_customer.astype(np.int64) * k + labels[purchases.text_id],
            weights=purchases.text_amount,
            minlength=n * k,
        ).reshape(n, k)
        total = summed.sum(axis=1, keepdims=True)
        shares = np.divide(summed, total, out=np.zeros_like(summed), where=total != 0)
        for j, name in enumerate(category_names):
            out[category_column(name)] = shares[:, j]
    out.index = pd.Index(out.index.astype(str), name="customer_id", dtype=object)
    return out


def feature_names(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Numeric and categorical first-purchase feature columns of ``frame``.

    Examples
    --------
    >>> feature_names(pd.DataFrame(columns=["first_basket_value", "country"]))
    (['first_basket_value'], ['country'])
    """
    categorical = [c for c in frame.columns if c == "country"]
    numeric = [c for c in frame.columns if c not in categorical]
    return numeric, categorical
