from django.apps import AppConfig


class StatesetConfig(AppConfig):
    name = "stateset"
    verbose_name = "API access"
