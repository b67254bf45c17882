"""The staff console: server-rendered pages (Starlette + Jinja2 + htmx) at /console.

Every page gets its data by executing GraphQL operations in-process against api.schema as the
signed-in staff member (console/gql.py), so the one access check and the PHI read audit apply
exactly as for the apps: there is no second data path and no SQL here.
"""
