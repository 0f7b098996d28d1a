"""The sweeper's index: pending deliveries by age, the finished ones (nearly all rows) left out.
It replaces the (status, next_attempt_at) index, which no query used."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('webhooks', '0002_carry_over'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='webhookdelivery',
            name='approvals_w_status_d63407_idx',
        ),
        migrations.AddIndex(
            model_name='webhookdelivery',
            index=models.Index(condition=models.Q(('status', 'pending')), fields=['created_at'],
                               name='webhook_delivery_pending'),
        ),
    ]
