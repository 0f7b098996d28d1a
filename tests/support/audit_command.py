"""`manage.py audit ...` called in-process, for the audit log's tests."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command


def audit(*args) -> tuple[str, str]:
    """(stdout, stderr) of `manage.py audit *args`."""
    out, err = StringIO(), StringIO()
    call_command("audit", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def verify_failure(*args) -> str:
    """The stderr of `manage.py audit verify *args`, which must fail with exit status 1."""
    err = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("audit", "verify", *args, stdout=StringIO(), stderr=err)
    assert failure.value.returncode == 1
    return err.getvalue()
