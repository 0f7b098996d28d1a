from django.apps import AppConfig


class MemoryConfig(AppConfig):
    name = "agentops.memory"
    label = "memory"
    verbose_name = "Memory"
