"""agentops.outbound: which addresses tenants' requests may reach, the allow-list, resolving once."""

import asyncio
import ipaddress

import httpx
import pytest

from agentops import outbound
from agentops.outbound import OutboundRefused, address_check, literal_refusal, parse_allowance, refusal_reason
from agentops.outbound.clients import GuardedTransport, async_http_client, http_client
from tests.support.outbound import Resolver
from tests.support.tool_servers import Reply, ScriptedHTTPServer


@pytest.mark.parametrize("address, reason", [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("fd00::1", "private"),
    ("fd00:ec2::254", "private"),  # the AWS metadata service over IPv6
    ("169.254.169.254", "link-local (cloud metadata)"),
    ("fe80::1", "link-local (cloud metadata)"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "private"),
    ("255.255.255.255", "private"),
    ("::ffff:127.0.0.1", "loopback (in an IPv6 form)"),
    ("::ffff:169.254.169.254", "link-local (cloud metadata) (in an IPv6 form)"),
    ("::7f00:1", "loopback (in an IPv6 form)"),  # IPv4-compatible ::127.0.0.1
    ("64:ff9b::a00:1", "private (in an IPv6 form)"),  # NAT64 of 10.0.0.1
    ("2002:7f00:1::", "loopback (in an IPv6 form)"),  # 6to4 of 127.0.0.1
    ("2001:db8::1", "private"),  # documentation
])
def test_internal_addresses_are_refused_with_their_kind(address, reason):
    assert refusal_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8",
                                     "64:ff9b::808:808"])
def test_public_addresses_and_their_ipv6_forms_pass(address):
    assert refusal_reason(ipaddress.ip_address(address)) is None


def test_a_name_is_refused_when_any_of_its_addresses_is_internal(monkeypatch):
    monkeypatch.setattr(outbound, "resolve", Resolver(["93.184.215.14", "10.1.2.3"]))

    with pytest.raises(OutboundRefused) as caught:
        address_check("mixed.example", 443)

    assert caught.value.code == "outbound_address_refused"
    assert caught.value.details == {"host": "mixed.example", "address": "10.1.2.3", "reason": "private"}
    assert "mixed.example (10.1.2.3)" in caught.value.message


def test_a_public_name_gives_the_addresses_it_was_checked_with(monkeypatch):
    resolver = Resolver(["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
    monkeypatch.setattr(outbound, "resolve", resolver)

    addresses = address_check("Example.COM.", 443)

    assert [str(a) for a in addresses] == ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    assert resolver.calls == 1


def test_an_address_is_not_resolved(monkeypatch):
    resolver = Resolver(["127.0.0.1"])
    monkeypatch.setattr(outbound, "resolve", resolver)

    assert [str(a) for a in address_check("[2606:4700::1111]", 443)] == ["2606:4700::1111"]
    assert resolver.calls == 0


def test_localhost_is_refused_through_the_real_resolver():
    with pytest.raises(OutboundRefused, match="localhost"):
        address_check("localhost", 80)


def test_the_allow_list_admits_networks_names_and_ports(settings, monkeypatch):
    settings.AGENTOPS_OUTBOUND_ALLOW = ["10.20.0.0/16", "billing.internal:8443", "127.0.0.1:8765", "[::1]:9000"]
    monkeypatch.setattr(outbound, "resolve", Resolver(["10.99.0.1"]))

    assert address_check("10.20.3.4", 5432)
    assert address_check("billing.internal", 8443)  # a name the platform allows, whatever it resolves to
    assert address_check("127.0.0.1", 8765)
    assert address_check("::1", 9000)
    for host, port in [("10.21.0.1", 80), ("billing.internal", 443), ("127.0.0.1", 8766), ("::1", 9001)]:
        with pytest.raises(OutboundRefused):
            address_check(host, port)


def test_an_allowed_ipv4_address_is_allowed_in_its_mapped_form(settings):
    settings.AGENTOPS_OUTBOUND_ALLOW = ["127.0.0.1:8765"]

    assert address_check("::ffff:127.0.0.1", 8765)


@pytest.mark.parametrize("entry", ["", "a:b:c", "host:0", "host:99999", "host:http", "[::1]:x", "[]"])
def test_unreadable_allow_list_entries_are_refused(entry):
    with pytest.raises(ValueError, match="AGENTOPS_OUTBOUND_ALLOW"):
        parse_allowance(entry)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "api.localhost", "LOCALHOST.", "[::1]", "10.0.0.5",
                                  "169.254.169.254", "2130706433", "0x7f.1", "::ffff:10.0.0.1"])
def test_a_literal_internal_host_is_refused_as_written(host):
    assert "tenant tools and webhooks may not reach" in literal_refusal(host, 80)


@pytest.mark.parametrize("host", ["api.example.com", "8.8.8.8", "internal-looking.example"])
def test_a_host_that_needs_dns_is_left_to_the_connect_time_check(host):
    assert literal_refusal(host, 80) is None


def test_localhost_as_written_follows_the_allow_list_for_loopback(settings):
    settings.AGENTOPS_OUTBOUND_ALLOW = ["127.0.0.1:8000"]

    assert literal_refusal("localhost", 8000) is None
    assert literal_refusal("localhost", 8001) is not None


# The httpx clients: every connection, every hop, goes through the check


def test_a_redirect_from_an_allowed_server_to_this_machine_is_refused(settings):
    with ScriptedHTTPServer(lambda request: Reply(200, "inside")) as inside, \
            ScriptedHTTPServer(lambda request: Reply(302, "", headers={"Location": f"{inside.url}/admin"})) as front:
        settings.AGENTOPS_OUTBOUND_ALLOW = [f"127.0.0.1:{front.port}"]
        # A client that follows redirects, over the guarded transport (the tools' clients follow none)
        with httpx.Client(transport=GuardedTransport(), follow_redirects=True, trust_env=False) as client:
            with pytest.raises(OutboundRefused, match="127.0.0.1, which is loopback"):
                client.get(front.url)

    assert len(front.requests) == 1 and inside.requests == []


def test_proxy_variables_do_not_carry_a_guarded_request(settings, monkeypatch):
    # Given a "proxy" on loopback that the environment names, and a target the platform allows
    with ScriptedHTTPServer(lambda request: Reply(200, "proxied")) as proxy, \
            ScriptedHTTPServer(lambda request: Reply(200, "direct")) as target:
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        settings.AGENTOPS_OUTBOUND_ALLOW = [f"127.0.0.1:{target.port}"]

        with http_client(guarded=True, timeout=5) as client:
            answer = client.get(target.url).text

    assert answer == "direct" and proxy.requests == []


def test_an_async_client_refuses_loopback_and_nothing_arrives():
    async def fetch(url):
        async with async_http_client(timeout=5) as client:
            return await client.get(url)

    with ScriptedHTTPServer(lambda request: Reply(200, "inside")) as inside:
        with pytest.raises(OutboundRefused):
            asyncio.run(fetch(inside.url))

    assert inside.requests == []


def test_the_next_checked_address_is_tried_when_one_does_not_answer(settings, monkeypatch):
    # Given a name with two allowed addresses, the first with nothing listening on the port
    with ScriptedHTTPServer(lambda request: Reply(200, "second"), host="127.0.0.2") as server:
        settings.AGENTOPS_OUTBOUND_ALLOW = ["127.0.0.3", "127.0.0.2"]
        monkeypatch.setattr(outbound, "resolve", Resolver(["127.0.0.3", "127.0.0.2"]))

        with http_client(guarded=True, timeout=5) as client:
            answer = client.get(f"http://twice.example:{server.port}/").text

    assert answer == "second" and len(server.requests) == 1
