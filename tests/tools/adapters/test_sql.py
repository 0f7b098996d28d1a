import pytest
from django.db import connections

from tools.adapters.base import AdapterError, Invocation
from tools.adapters.sql import SqlAdapter

# The demo database is declared for tools (AGENTOPS_TOOL_DATABASES); these tests read tables of their own there.
pytestmark = pytest.mark.django_db(databases=["default", "demo"])
connection = connections["demo"]
DB = {"database": "demo"}


@pytest.fixture
def products():
    """A small table, created inside the test's transaction and gone with it."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE tool_sql_product (sku varchar(20) PRIMARY KEY, name varchar(50), price integer)")
        for i in range(1, 6):
            cursor.execute("INSERT INTO tool_sql_product VALUES (%s, %s, %s)", [f"P-{i}", f"Product {i}", i * 10])
    return "tool_sql_product"


def product_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tool_sql_product")
        return cursor.fetchone()[0]


def invoke(adapter, arguments=None):
    return adapter.call(Invocation(arguments or {}, "run-3:1", 5.0))


def test_select_returns_columns_and_rows_with_bound_parameters(products, secrets):
    # Given a query with a named parameter
    adapter = SqlAdapter(
        {**DB, "query": "SELECT sku, price FROM tool_sql_product WHERE price >= %(min_price)s ORDER BY sku"}, secrets
    )

    # When it is called
    result = invoke(adapter, {"min_price": 40})

    # Then the matching rows come back as dicts
    assert result == {
        "columns": ["sku", "price"],
        "rows": [{"sku": "P-4", "price": 40}, {"sku": "P-5", "price": 50}],
        "truncated": False,
    }


@pytest.mark.parametrize(
    "query",
    [
        "DELETE FROM tool_sql_product",
        "UPDATE tool_sql_product SET price = 0",
        "SELECT 1; DROP TABLE tool_sql_product",
        "WITH gone AS (DELETE FROM tool_sql_product RETURNING *) SELECT * FROM gone",
        "SELECT * INTO copy_of_products FROM tool_sql_product",
        "PRAGMA query_only = OFF",
    ],
)
def test_validate_config_refuses_statements_that_write(query):
    # Given/When a statement that is not a single pure read
    # Then it is refused on save
    with pytest.raises(ValueError, match="sql tool"):
        SqlAdapter.validate_config({**DB, "query": query})


def test_write_smuggled_past_validation_is_refused_by_the_database(products, secrets, monkeypatch):
    # Given a write that got past validate_config (simulated by skipping it)
    monkeypatch.setattr(SqlAdapter, "validate_config", classmethod(lambda cls, config: None))
    adapter = SqlAdapter({**DB, "query": "DELETE FROM tool_sql_product"}, secrets)

    # When it is called
    with pytest.raises(AdapterError) as caught:
        invoke(adapter)

    # Then the database refused it permanently and no row is gone
    assert caught.value.retryable is False
    assert "readonly" in caught.value.message.replace("read-only", "readonly").replace(" ", "")
    assert product_count() == 5


def test_read_only_mode_is_lifted_after_the_call(products, secrets):
    # Given a completed read
    invoke(SqlAdapter({**DB, "query": "SELECT sku FROM tool_sql_product"}, secrets))

    # When the same connection writes afterwards
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM tool_sql_product WHERE sku = 'P-1'")

    # Then the write went through
    assert product_count() == 4


def test_injection_in_a_parameter_is_bound_as_data(products, secrets):
    # Given a lookup by name and an argument crafted to escape the string
    adapter = SqlAdapter({**DB, "query": "SELECT sku FROM tool_sql_product WHERE name = %(name)s"}, secrets)

    # When it is called with the injection attempt
    result = invoke(adapter, {"name": "x' OR '1'='1"})

    # Then it matched nothing, as a plain string would
    assert result["rows"] == []


def test_rows_past_max_rows_are_cut_and_flagged(products, secrets):
    # Given a tool limited to 2 rows over a table of 5
    adapter = SqlAdapter({**DB, "query": "SELECT sku FROM tool_sql_product ORDER BY sku", "max_rows": 2}, secrets)

    # When it is called
    result = invoke(adapter)

    # Then two rows come back, marked truncated
    assert result["rows"] == [{"sku": "P-1"}, {"sku": "P-2"}]
    assert result["truncated"] is True


def test_missing_parameter_is_a_permanent_error(products, secrets):
    # Given a query needing an argument the call does not provide
    adapter = SqlAdapter({**DB, "query": "SELECT sku FROM tool_sql_product WHERE sku = %(sku)s"}, secrets)

    # When/Then it fails permanently, naming the argument
    with pytest.raises(AdapterError, match="sku") as caught:
        invoke(adapter)
    assert caught.value.retryable is False


def test_statement_timeout_interrupts_a_long_query(secrets):
    # Given an endless recursive query and a 100 ms limit
    adapter = SqlAdapter(
        {
            **DB,
            "query": "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT max(x) FROM n",
            "statement_timeout_ms": 100,
        },
        secrets,
    )

    # When it is called
    with pytest.raises(AdapterError) as caught:
        invoke(adapter)

    # Then it is stopped and reported as a retryable timeout
    assert caught.value.retryable is True
    assert "100 ms" in caught.value.message


def test_tenant_id_is_the_runs_tenant_whatever_the_arguments_say(secrets):
    adapter = SqlAdapter({**DB, "query": "SELECT %(tenant_id)s AS tenant"}, secrets)

    result = adapter.call(Invocation({"tenant_id": 999}, "run-3:1", 5.0, tenant_id=7))

    assert result["rows"] == [{"tenant": 7}]
