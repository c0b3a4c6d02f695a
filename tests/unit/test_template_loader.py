"""template.yaml is read with libyaml's parser where PyYAML has it (rekflow.local.template): it must read
exactly what PyYAML's own parser reads."""

from __future__ import annotations

import yaml

from rekflow import TEMPLATE_PATH
from rekflow.local import template


def test_the_fast_parser_reads_template_yaml_as_the_pure_python_one_does():
    class PurePythonLoader(yaml.SafeLoader):
        pass

    PurePythonLoader.add_multi_constructor("!", template._intrinsic)
    text = TEMPLATE_PATH.read_text(encoding="utf-8")
    assert template._TemplateLoader.__mro__[1] is getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    assert template.load_template_yaml(text) == yaml.load(text, Loader=PurePythonLoader)  # noqa: S506 - SafeLoader
