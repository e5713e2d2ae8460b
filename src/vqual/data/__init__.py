"""Benchmark datasets: loaders for the official label files of the standard image and video quality sets.

>>> from vqual.data import load_dataset
>>> ds = load_dataset("koniq", "/data/koniq10k")       # doctest: +SKIP
>>> for path, mos, content_id, split in ds: ...        # doctest: +SKIP

Every dataset declares its label range and direction (`DatasetInfo`); `DatasetInfo.to_1_5` maps labels onto
vqual's 1-5, higher-is-better scale. Labels that point at a missing media file are skipped and listed in
``Dataset.skipped``; a missing label file raises `DatasetError` naming it.
"""

from vqual.data.base import Dataset, DatasetError, DatasetInfo, Item, Skipped
from vqual.data.manifest import load_manifest
from vqual.data.registry import dataset_info, list_datasets, load_dataset

__all__ = ["Dataset", "DatasetError", "DatasetInfo", "Item", "Skipped", "dataset_info", "list_datasets",
           "load_dataset", "load_manifest"]
