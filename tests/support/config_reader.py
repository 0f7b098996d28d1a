"""A process that reads tenants' daily cost limits through the configuration cache, for the tests
of a cache shared between processes (tests/test_config_cache.py).

Started as `python -m tests.support.config_reader` with the test settings and database. For each
tenant id read from stdin it prints the limit and whether it was "loaded" or "cached".
"""

import os
import sys

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    django.setup()
    from agentops import config_cache
    from agentops.tenancy.models import Tenant

    for line in sys.stdin:
        tenant_id = int(line)
        loaded = []

        def load():
            loaded.append(True)
            return str(Tenant.objects.get(pk=tenant_id).daily_cost_limit)

        value = config_cache.cached(("test-daily-limit", tenant_id), load)
        print(value, "loaded" if loaded else "cached", flush=True)


if __name__ == "__main__":
    main()
