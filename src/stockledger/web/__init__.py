"""Staff pages under /ui: Jinja2 templates and htmx, calling the same services as the API."""
