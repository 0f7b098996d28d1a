import pytest

from agentops.secrets.resolver import SecretResolver
from tests.support.tool_servers import (
    GrpcInventoryServer,
    McpHttpServer,
    ScriptedHTTPServer,
    compile_inventory_proto,
    graphql_server,
)

TOKEN = "tok-3f9a1c77e2"


@pytest.fixture
def secrets():
    """A global tool's resolver over a fixed environment: CRM_TOKEN is the only secret there is."""
    return SecretResolver.for_platform(environ={"AGENTOPS_SECRET_CRM_TOKEN": TOKEN}, secrets_file="")


@pytest.fixture
def tenant_secrets():
    """A tenant's tool's resolver, with no secrets: the adapter it builds is guarded."""
    return SecretResolver(lambda name: None, where="this tenant's secrets", tenant_id=1)


@pytest.fixture
def http_server(allow_outbound):
    """A local HTTP server that even a tenant's (guarded) adapter may reach."""
    with ScriptedHTTPServer() as server:
        allow_outbound(server.url)
        yield server


@pytest.fixture
def graphql_endpoint(allow_outbound):
    with graphql_server() as server:
        allow_outbound(server.url)
        yield server


@pytest.fixture(scope="session")
def inventory_descriptor_set(tmp_path_factory):
    return compile_inventory_proto(tmp_path_factory.mktemp("proto"))


@pytest.fixture
def grpc_server(inventory_descriptor_set, allow_outbound):
    server = GrpcInventoryServer(inventory_descriptor_set, reflection=True).start()
    allow_outbound(server.target)
    yield server
    server.stop()


@pytest.fixture
def grpc_server_without_reflection(inventory_descriptor_set, allow_outbound):
    server = GrpcInventoryServer(inventory_descriptor_set, reflection=False).start()
    allow_outbound(server.target)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mcp_http_process():
    server = McpHttpServer().start()
    yield server
    server.stop()


@pytest.fixture
def mcp_http_server(mcp_http_process, allow_outbound):
    allow_outbound(mcp_http_process.url)
    return mcp_http_process
