"""The web shell: the application factory, request dependencies, rendering (full page or htmx
partial), languages, error pages, the dashboard and the area pages. Holds no business rules."""
