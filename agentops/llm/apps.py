from django.apps import AppConfig


class LlmConfig(AppConfig):
    name = "agentops.llm"
    label = "llm"
    verbose_name = "Model gateway"
    default_auto_field = "django.db.models.BigAutoField"
