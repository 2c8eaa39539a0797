"""The staff site above the domains: the admin site, its dashboard and charts, the staff roles, the demo data.

It is the top of the dependency order: it may import every domain app (crm, inventory, orders, returns,
manufacturing) and `stateset`; nothing imports it (the contract in pyproject.toml, `[tool.importlinter]`).
"""
