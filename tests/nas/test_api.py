"""The package's face: every name ``nas`` exports resolves to the object its module defines."""

from __future__ import annotations

import importlib

import pytest

import nas


@pytest.mark.parametrize("name", sorted(nas._EXPORTS))
def test_exported_name_is_the_modules_own(name):
    module, attr = nas._EXPORTS[name]
    assert getattr(nas, name) is getattr(importlib.import_module(module), attr)
    assert name in nas.__all__ and name in dir(nas)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = nas.nope


def test_the_face_answers_a_question_end_to_end():
    arch = nas.load_architecture("efficientnet-b0")
    assert nas.count_flops(arch, resolution=224, num_classes=1000) == 385_814_752  # P1 Table 2: 0.39B
