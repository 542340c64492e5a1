"""Readers for CSV/TSV (encoding and delimiter detected), Excel .xlsx, Parquet and DataFrames."""

from custseg.io.readers import NA_VALUES, SourceInfo, load_source

__all__ = ["NA_VALUES", "SourceInfo", "load_source"]
