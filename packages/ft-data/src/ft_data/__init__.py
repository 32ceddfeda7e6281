"""ft-data: dataset registry (dataset_info.json), loaders, format alignment, stage processors,
collators and validation reports for the ft toolkit."""

from .align import FORMATS, get_converter, register_format
from .args import DataArgs
from .collators import COLLATORS, make_collator
from .loader import DatasetModule, get_dataset
from .processors import IGNORE_INDEX, PROCESSORS, infer_seqlen, register_processor, to_dataset
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
from .report import ValidationReport

__version__ = "0.1.0"

__all__ = [
    "COLLATORS",
    "FORMATS",
    "IGNORE_INDEX",
    "PROCESSORS",
    "REGISTRY_FILE",
    "DataArgs",
    "DatasetColumns",
    "DatasetEntry",
    "DatasetModule",
    "DatasetTags",
    "ValidationReport",
    "__version__",
    "get_converter",
    "get_dataset",
    "get_dataset_entry",
    "infer_seqlen",
    "load_dataset_info",
    "make_collator",
    "parse_entry",
    "register_datasets",
    "register_format",
    "register_processor",
    "to_dataset",
]
