from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_tenant_index_covered")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.CharField(default="", help_text="The audit key that signed `hash`.", max_length=32),
            preserve_default=False,  # filled by 0005, which signs every existing chain
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(help_text="HMAC-SHA256 of the content, `prev_hash` included.", max_length=64),
        ),
    ]
