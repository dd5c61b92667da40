"""Reports: jinja2 HTML from the store. Reports never import transports or runners."""
