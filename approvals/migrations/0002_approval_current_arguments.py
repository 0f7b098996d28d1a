import hashlib
import json

from django.conf import settings
from django.db import migrations, models


def _hash(arguments) -> str:
    # A frozen copy of approvals.models.arguments_hash: migrations must not follow later changes.
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def fill_hashes(apps, schema_editor):
    """Existing requests review their proposal; existing approvals approved what they saw or their edit."""
    ApprovalRequest = apps.get_model("approvals", "ApprovalRequest")
    ApprovalDecision = apps.get_model("approvals", "ApprovalDecision")
    for request in ApprovalRequest.objects.filter(current_hash="").only("pk", "proposed_hash"):
        ApprovalRequest.objects.filter(pk=request.pk).update(current_hash=request.proposed_hash)
    for vote in ApprovalDecision.objects.filter(verdict="approve", approved_hash=""):
        approved = vote.seen_hash if vote.arguments is None else _hash(vote.arguments)
        ApprovalDecision.objects.filter(pk=vote.pk).update(approved_hash=approved)


class Migration(migrations.Migration):

    dependencies = [
        ("approvals", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="approvalrequest",
            name="current_arguments",
            field=models.JSONField(
                blank=True, null=True,
                help_text="An approver's edit awaiting the rest of the quorum; empty: as proposed.",
            ),
        ),
        migrations.AddField(
            model_name="approvalrequest",
            name="current_hash",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="approvalrequest",
            name="escalated_at",
            field=models.DateTimeField(
                blank=True, null=True, help_text="When expiry handed the request to the escalation group (once only)."
            ),
        ),
        migrations.AddField(
            model_name="approvaldecision",
            name="approved_hash",
            field=models.CharField(
                blank=True, max_length=64, help_text="Hash of the arguments this vote approves; empty for a rejection."
            ),
        ),
        migrations.AddField(
            model_name="approvaldecision",
            name="changes",
            field=models.JSONField(
                blank=True, default=dict, help_text="{argument: [seen, edited]} when the approver edited the arguments."
            ),
        ),
        migrations.RunPython(fill_hashes, migrations.RunPython.noop),
        migrations.AlterModelOptions(name="approvaldecision", options={"ordering": ["created_at"]}),
        migrations.RemoveConstraint(model_name="approvaldecision", name="one_vote_per_approver"),
        migrations.AddConstraint(
            model_name="approvaldecision",
            constraint=models.UniqueConstraint(
                fields=("request", "user", "seen_hash"), name="one_vote_per_approver_and_version"
            ),
        ),
    ]
