"""Shared helpers of ft-data's tests: a prepared template with its own tokenizer copy."""

from __future__ import annotations

import pytest


@pytest.fixture
def smol(fresh_smollm2_tokenizer):
    """(template, tokenizer): ft-templates' smollm2 template prepared on a private tokenizer copy."""
    from ft_templates import prepare_template

    return prepare_template("smollm2", fresh_smollm2_tokenizer), fresh_smollm2_tokenizer


@pytest.fixture
def args_for(tmp_path):
    """DataArgs with the cache in the test's temp folder."""
    from ft_data import DataArgs

    def make(dataset_dir, dataset, **kw):
        return DataArgs(dataset=dataset, dataset_dir=str(dataset_dir), cache_dir=str(tmp_path / "cache"), **kw)

    return make
