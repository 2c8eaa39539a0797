"""The back office's admin site: Django's admin with the dashboard as its index and export on every changelist.

`BackOfficeAdminConfig` replaces "django.contrib.admin" in INSTALLED_APPS and makes `BackOfficeSite` the
default site, so every app's `@admin.register(...)` (and django.contrib.auth's) registers here unchanged.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class BackOfficeSite(admin.AdminSite):
    site_header = "StateSet back office"
    site_title = "StateSet back office"
    index_title = "Dashboard"
    index_template = "admin/dashboard.html"
    # The page's width goes to the document (issue #19: fit 1366 px); the dashboard and breadcrumbs lead.
    enable_nav_sidebar = False
    site_url = "/v1/docs"  # "View site": the API's documentation (there is no shop front here)

    def register(self, model_or_iterable, admin_class=None, **options):
        """Every ModelAdmin registered here can export its changelist's filtered rows (CSV, XLSX): one that
        does not already mix in import-export's ExportMixin gets `stateset.admin.ExportAdminMixin` in front
        of it. That covers the admin classes of apps this project does not own (auth's users and groups)
        and of apps still being written, with no change to them."""
        from import_export.admin import ExportMixin

        from stateset.admin import ExportAdminMixin

        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, ExportMixin):
            admin_class = type(
                admin_class.__name__,
                (ExportAdminMixin, admin_class),
                {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__},
            )
        return super().register(model_or_iterable, admin_class, **options)

    def index(self, request, extra_context=None):
        from backoffice import dashboard

        context = {"figures": dashboard.figures(request.user), **(extra_context or {})}
        return super().index(request, extra_context=context)


class BackOfficeAdminConfig(AdminConfig):
    default_site = "backoffice.admin_site.BackOfficeSite"
