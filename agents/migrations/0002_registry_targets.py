import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('agents', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='syncrun',
            name='changes',
            field=models.JSONField(blank=True, default=list, help_text='What this run added, updated or removed'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='started_at',
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.CreateModel(
            name='RegistryTarget',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('subset', models.CharField(default='stable', max_length=128, validators=[django.core.validators.RegexValidator('^[A-Za-z0-9._:@-]{1,128}$', '1-128 characters of A-Z a-z 0-9 . _ : @ -')])),
                ('origin', models.CharField(choices=[('config', 'LMOS_SUBSETS'), ('traffic', 'Seen in traffic'), ('sync', 'Registry sync')], default='sync', max_length=16)),
                ('last_synced_at', models.DateTimeField(blank=True, null=True)),
                ('last_attempt_at', models.DateTimeField(blank=True, null=True)),
                ('last_error', models.TextField(blank=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='registry_targets', to='agents.tenant')),
            ],
            options={
                'ordering': ['tenant__tenant_id', 'subset'],
                'constraints': [models.UniqueConstraint(fields=('tenant', 'subset'), name='uniq_registry_target')],
            },
        ),
    ]
