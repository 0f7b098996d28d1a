"""Suites and cases in the admin: edited by the roles that run evals, assertions checked, every
change audited; eval runs read-only; another tenant's suites out of sight."""

from agentops.audit.models import AuditEvent
from agentops.tenancy.roles import Role
from evals.models import EvalCase
from tests.factories import AgentFactory, EvalCaseFactory, EvalSuiteFactory
from tests.support.admin_forms import form_as_posted


def suite_url(suite) -> str:
    return f"/admin/evals/evalsuite/{suite.pk}/change/"


def signed_in_staff(client, member, role, username="stella"):
    user = member(username, role)
    user.is_staff = True
    user.save()
    client.force_login(user)
    return client


def test_an_owner_edits_a_case_and_the_change_is_audited(staff, tenant, refund_suite):
    data = form_as_posted(staff.get(suite_url(refund_suite)))
    data["cases-0-assertions"] = '[{"type": "icontains", "value": "refunded"}]'

    response = staff.post(suite_url(refund_suite), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    case = EvalCase.objects.get(suite=refund_suite, name="approved refund")
    assert case.assertions == [{"type": "icontains", "value": "refunded"}]
    event = AuditEvent.objects.get(tenant=tenant, action="eval_case.changed")
    assert event.data == {"suite": "refunds", "cases": {"approved refund": ["assertions"]}}
    assert event.actor_label == "oona"


def test_an_assertion_type_not_run_is_refused_by_name_and_nothing_is_saved(staff, refund_suite):
    data = form_as_posted(staff.get(suite_url(refund_suite)))
    data["cases-0-assertions"] = '[{"type": "javascript", "value": "output.length > 3"}]'

    response = staff.post(suite_url(refund_suite), data)

    assert response.status_code == 200
    [errors] = [form.errors for inline in response.context["inline_admin_formsets"]
                for form in inline.formset.forms if form.errors]
    assert "javascript" in str(errors["assertions"])
    assert EvalCase.objects.get(suite=refund_suite, name="approved refund").assertions[0]["type"] == "tool-called"


def test_a_deleted_case_is_audited(staff, tenant, refund_suite):
    data = form_as_posted(staff.get(suite_url(refund_suite)))
    data["cases-1-DELETE"] = "on"

    staff.post(suite_url(refund_suite), data)

    assert list(refund_suite.cases.values_list("name", flat=True)) == ["approved refund"]
    assert AuditEvent.objects.get(tenant=tenant, action="eval_case.deleted").data["cases"] == ["rejected refund"]


def test_a_viewer_reads_the_suite_but_changes_nothing(client, member, refund_suite):
    viewer = signed_in_staff(client, member, Role.VIEWER)

    assert viewer.get(suite_url(refund_suite)).status_code == 200
    assert viewer.post(suite_url(refund_suite), {"name": "x"}).status_code == 403
    assert viewer.get("/admin/evals/evalsuite/add/").status_code == 403


def test_another_tenants_suites_are_out_of_sight(client, member, refund_suite, other_tenant):
    theirs = EvalSuiteFactory(agent=AgentFactory(tenant=other_tenant, slug="their-bot"), name="theirs")
    EvalCaseFactory(suite=theirs, name="secret case")
    operator = signed_in_staff(client, member, Role.OPERATOR)

    listing = operator.get("/admin/evals/evalsuite/").content.decode()

    assert "refunds" in listing and "theirs" not in listing
    assert operator.get(suite_url(theirs)).status_code in (302, 404)


def test_an_eval_run_is_read_only(admin_client, eval_history):
    eval_run = eval_history.eval_runs[1]
    url = f"/admin/evals/evalrun/{eval_run.pk}/change/"

    page = admin_client.get(url)

    assert page.status_code == 200 and "order status" in page.content.decode()
    assert admin_client.post(url, {"label": "edited"}).status_code == 403
