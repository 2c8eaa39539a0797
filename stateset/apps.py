from django.apps import AppConfig


class StatesetConfig(AppConfig):
    name = "stateset"
    verbose_name = "API access"

    def ready(self):
        # Events are written at the end of each outermost transaction, with its change (stateset.events).
        from stateset import events

        events.install()
        from stateset import webhooks
        from stateset.events_api import WebhookEndpointViewSet
        from stateset.models import WebhookEndpoint

        events.register(WebhookEndpoint, viewset=WebhookEndpointViewSet)
        events.on_write(webhooks.on_event_write)

        # Cache invalidation for API key authentication (stateset/auth.py): any change to who may do what.
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from stateset.auth import invalidate
        from stateset.models import ApiKey

        user = get_user_model()
        for model in (ApiKey, user, Group):
            post_save.connect(invalidate, sender=model, dispatch_uid=f"apikey-cache-save-{model.__name__}")
            post_delete.connect(invalidate, sender=model, dispatch_uid=f"apikey-cache-delete-{model.__name__}")
        for through in (user.groups.through, user.user_permissions.through, Group.permissions.through):
            m2m_changed.connect(invalidate, sender=through, dispatch_uid=f"apikey-cache-m2m-{through.__name__}")
