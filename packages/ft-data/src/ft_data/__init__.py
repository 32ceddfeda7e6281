"""ft-data: dataset registry (dataset_info.json), loaders, format alignment, stage processors,
collators and validation reports for the ft toolkit."""

from .registry import (
    REGISTRY_FILE,
    DatasetColumns,
    DatasetEntry,
    DatasetTags,
    get_dataset_entry,
    load_dataset_info,
    parse_entry,
    register_datasets,
)

__version__ = "0.1.0"

__all__ = [
    "REGISTRY_FILE",
    "DatasetColumns",
    "DatasetEntry",
    "DatasetTags",
    "__version__",
    "get_dataset_entry",
    "load_dataset_info",
    "parse_entry",
    "register_datasets",
]
