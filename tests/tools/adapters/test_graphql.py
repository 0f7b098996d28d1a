import pytest

from tests.support.tool_servers import Reply
from tests.tools.adapters.conftest import TOKEN
from tools.adapters.base import AdapterError, Delivery, Invocation
from tools.adapters.graphql import GraphQLAdapter

ITEM_QUERY = "query Item($sku: String!) { item(sku: $sku) { sku name quantity } }"


def invoke(adapter, arguments=None):
    return adapter.call(Invocation(arguments or {}, "run-7:4", 5.0))


def test_data_is_returned_for_a_query_with_variables(graphql_endpoint, secrets):
    # Given a GraphQL tool whose variables are its arguments
    adapter = GraphQLAdapter(
        {"endpoint": graphql_endpoint.url + "/graphql", "document": ITEM_QUERY, "operation_name": "Item"},
        secrets,
    )

    # When it is called
    result = invoke(adapter, {"sku": "A-1"})

    # Then the response's data is returned and the key was sent
    assert result == {"item": {"sku": "A-1", "name": "Anvil", "quantity": 3}}
    assert graphql_endpoint.requests[0].headers["idempotency-key"] == "run-7:4"


def test_variables_mapping_renames_arguments(graphql_endpoint, secrets):
    # Given a mapping from the GraphQL variable to a differently named argument
    adapter = GraphQLAdapter(
        {
            "endpoint": graphql_endpoint.url + "/graphql",
            "document": ITEM_QUERY,
            "variables": {"sku": "product_code"},
        },
        secrets,
    )

    # When it is called with that argument and an unmapped one
    invoke(adapter, {"product_code": "A-1", "note": "ignored"})

    # Then only the mapped variable is sent
    assert graphql_endpoint.requests[0].json()["variables"] == {"sku": "A-1"}


def test_graphql_errors_are_surfaced_and_not_retryable(graphql_endpoint, secrets):
    # Given a query for an item that does not exist
    adapter = GraphQLAdapter(
        {"endpoint": graphql_endpoint.url + "/graphql", "document": ITEM_QUERY}, secrets
    )

    # When it is called
    with pytest.raises(AdapterError) as caught:
        invoke(adapter, {"sku": "Z-9"})

    # Then the resolver's message is in a permanent error, a complete answer
    assert caught.value.retryable is False and caught.value.delivery == Delivery.SENT
    assert "No item with SKU Z-9. (at item)" in caught.value.message


def test_secret_header_reaches_the_server_but_not_the_data(graphql_endpoint, secrets):
    # Given a tool authenticating with a secret, against a field that echoes the header
    adapter = GraphQLAdapter(
        {
            "endpoint": graphql_endpoint.url + "/graphql",
            "document": "{ viewer }",
            "headers": {"Authorization": "Bearer {{ secret:CRM_TOKEN }}"},
        },
        secrets,
    )

    # When it is called
    result = invoke(adapter)

    # Then the server saw the token and the data shows its name only
    assert graphql_endpoint.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert result == {"viewer": "Bearer [secret:CRM_TOKEN]"}


def test_server_error_status_is_retryable_even_with_graphql_errors(http_server, secrets):
    # Given a gateway in front of the GraphQL server answering 502 with an error body
    http_server.reply(Reply(502, {"errors": [{"message": "upstream connect error"}]}))
    adapter = GraphQLAdapter({"endpoint": http_server.url + "/graphql", "document": "{ viewer }"}, secrets)

    # When it is called
    with pytest.raises(AdapterError) as caught:
        invoke(adapter)

    # Then the status decides: retryable, and whether the upstream acted is unknown
    assert (caught.value.retryable, caught.value.status, caught.value.delivery) == (True, 502, Delivery.MAYBE_SENT)
