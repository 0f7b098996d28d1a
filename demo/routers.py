"""The demo app's tables live in the demo database (alias "demo"); nothing else does.

Demo rows name tenants, runs and users by id only (foreign keys without a database constraint,
see demo.models): those rows are in the platform's database, which a demo row cannot reference.
"""

DEMO_ALIAS = "demo"


class DemoRouter:
    def db_for_read(self, model, **hints):
        if model._meta.app_label == "demo":
            return DEMO_ALIAS
        instance = hints.get("instance")
        if instance is not None and instance._state.db == DEMO_ALIAS:
            return "default"  # `ticket.tenant` and the like: Django would look in the row's own database
        return None

    db_for_write = db_for_read

    def allow_relation(self, obj1, obj2, **hints):
        if DEMO_ALIAS in (obj1._state.db, obj2._state.db):
            return True  # a demo row and the tenant, run or user it names by id
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if "platform_database" in hints:  # an operation on the platform's own database (demo 0002)
            return db != DEMO_ALIAS
        if db == DEMO_ALIAS:
            return app_label == "demo"
        return False if app_label == "demo" else None
