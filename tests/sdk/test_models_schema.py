"""The SDK's models stay what the API's schema says: same fields as the component of the same
name, and a field may be None exactly when the schema says it is nullable. A serializer that
gains, loses or renames a field fails here until sdk/python/src/agentops_client/models.py follows."""

import dataclasses
import typing

import pytest
from agentops_client import models
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def components():
    return SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]


def fields_of(model) -> dict:
    hints = typing.get_type_hints(model)
    return {field.name: hints[field.name] for field in dataclasses.fields(model) if field.name != "extra"}


def nullable(model) -> set[str]:
    return {name for name, hint in fields_of(model).items() if type(None) in typing.get_args(hint)}


@pytest.mark.parametrize("model", models.SCHEMA_MODELS, ids=lambda model: model.__name__)
def test_a_model_has_the_fields_of_its_schema_component(components, model):
    component = components[model.__name__]

    assert set(fields_of(model)) == set(component["properties"])


@pytest.mark.parametrize("model", models.SCHEMA_MODELS, ids=lambda model: model.__name__)
def test_a_model_field_is_optional_exactly_when_the_schema_says_nullable(components, model):
    properties = components[model.__name__]["properties"]

    assert nullable(model) == {name for name, schema in properties.items() if schema.get("nullable")}

